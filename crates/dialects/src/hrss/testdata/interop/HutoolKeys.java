import java.math.BigInteger;
import java.security.*;
import java.security.spec.*;
import java.util.Base64;
import org.bouncycastle.jce.provider.BouncyCastleProvider;
import org.bouncycastle.jce.ECNamedCurveTable;
import org.bouncycastle.jce.spec.*;

/** Prints an SM2 key pair the way Hutool's SM2.getPublicKeyBase64()/getPrivateKeyBase64() do:
 *  base64 of the JCA encodings (X.509 SubjectPublicKeyInfo, PKCS#8). */
public class HutoolKeys {
    public static void main(String[] a) throws Exception {
        Security.addProvider(new BouncyCastleProvider());
        ECNamedCurveParameterSpec spec = ECNamedCurveTable.getParameterSpec("sm2p256v1");
        BigInteger d = new BigInteger(a[0], 16);
        KeyFactory kf = KeyFactory.getInstance("EC", "BC");
        PrivateKey priv = kf.generatePrivate(new org.bouncycastle.jce.spec.ECPrivateKeySpec(d, spec));
        org.bouncycastle.math.ec.ECPoint q = spec.getG().multiply(d).normalize();
        PublicKey pub = kf.generatePublic(new org.bouncycastle.jce.spec.ECPublicKeySpec(q, spec));
        System.out.println(Base64.getEncoder().encodeToString(pub.getEncoded()));
        System.out.println(Base64.getEncoder().encodeToString(priv.getEncoded()));
    }
}
