// hrss crypto as a Java merchant does it with BouncyCastle, the way Hutool's SM2 and SM4
// classes drive it (Debian's libbcprov-java 1.72: /usr/share/java/bcprov.jar).
//
//     java -cp /usr/share/java/bcprov.jar InteropBc.java inputs.json > bouncycastle.json
//
// reads a case file (inputs.json here, or the one tests/hrss_interop.rs writes) and prints,
// as JSON: the public keys BC derives from the private keys, its signatures of the requested
// messages (DER and raw r||s, as hex), its SM4 ciphertexts of the plaintexts (ECB, PKCS#5
// padding, base64), and, when the case file asks, whether it verifies paymux's signatures
// ("verify") and what it decrypts paymux's ciphertexts to ("decrypt"). Nothing is compared
// here: the Rust tests compare.
//
// What Hutool does, and so this file (cn.hutool.crypto.asymmetric.SM2, SmUtil, BCUtil):
// - keys from hex: the private key is new BigInteger(hex, 16) (so Java's 33-byte
//   toByteArray() form with its leading 00, and toString(16) without leading zeros, both
//   read), the public key is curve.decodePoint(04||x||y);
// - SM2Signer(StandardDSAEncoding, SM3Digest): DER by default; usePlainEncoding() switches
//   to PlainDSAEncoding, raw r||s;
// - sign(data) passes no ParametersWithID, so SM2Signer uses its default user ID
//   1234567812345678; sign(data, id) passes ParametersWithID (here: the empty ID);
// - SM4 is the JCE cipher "SM4/ECB/PKCS5Padding" from the BC provider, the key as bytes
//   (16 characters' bytes, or 32 hex digits decoded), base64 by java.util.Base64.

import java.math.BigInteger;
import java.nio.charset.StandardCharsets;
import java.security.SecureRandom;
import java.util.ArrayList;
import java.util.Base64;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;

import javax.crypto.Cipher;
import javax.crypto.spec.SecretKeySpec;

import org.bouncycastle.asn1.gm.GMNamedCurves;
import org.bouncycastle.asn1.x9.X9ECParameters;
import org.bouncycastle.crypto.CipherParameters;
import org.bouncycastle.crypto.digests.SM3Digest;
import org.bouncycastle.crypto.params.ECDomainParameters;
import org.bouncycastle.crypto.params.ECPrivateKeyParameters;
import org.bouncycastle.crypto.params.ECPublicKeyParameters;
import org.bouncycastle.crypto.params.ParametersWithID;
import org.bouncycastle.crypto.params.ParametersWithRandom;
import org.bouncycastle.crypto.signers.DSAEncoding;
import org.bouncycastle.crypto.signers.PlainDSAEncoding;
import org.bouncycastle.crypto.signers.SM2Signer;
import org.bouncycastle.crypto.signers.StandardDSAEncoding;
import org.bouncycastle.jce.provider.BouncyCastleProvider;
import org.bouncycastle.util.encoders.Hex;

public class InteropBc {
    static final String STANDARD_ID = "1234567812345678";
    static final X9ECParameters CURVE = GMNamedCurves.getByName("sm2p256v1");
    static final ECDomainParameters DOMAIN =
            new ECDomainParameters(CURVE.getCurve(), CURVE.getG(), CURVE.getN(), CURVE.getH());
    static final SecureRandom RANDOM = new SecureRandom();
    static final BouncyCastleProvider BC = new BouncyCastleProvider();

    public static void main(String[] args) throws Exception {
        String text = new String(java.nio.file.Files.readAllBytes(java.nio.file.Paths.get(args[0])),
                StandardCharsets.UTF_8);
        Map<String, Object> cases = obj(new Json(text).value());
        Map<String, Object> keys = obj(cases.get("keys"));
        Map<String, Object> messages = obj(cases.get("messages"));

        Map<String, Object> out = new LinkedHashMap<>();
        out.put("library", "BouncyCastle " + BC.getVersionStr());
        Map<String, Object> publicKeys = new LinkedHashMap<>();
        for (String name : keys.keySet()) {
            BigInteger d = privateKey(keys, name).getD();
            publicKeys.put(name, Hex.toHexString(DOMAIN.getG().multiply(d).normalize().getEncoded(false)));
        }
        out.put("public_keys", publicKeys);

        List<Object> signatures = new ArrayList<>();
        for (Object j : list(cases.getOrDefault("signatures", new ArrayList<>()))) {
            Map<String, Object> job = obj(j);
            for (String form : new String[] {"der", "raw"}) {
                Map<String, Object> signed = new LinkedHashMap<>(job);
                signed.put("form", form);
                signed.put("hex", Hex.toHexString(sign(keys, messages, job, form)));
                signatures.add(signed);
            }
        }
        out.put("signatures", signatures);

        List<Object> sm4Keys = list(cases.getOrDefault("sm4_keys", new ArrayList<>()));
        List<Object> plaintexts = list(cases.getOrDefault("plaintexts", new ArrayList<>()));
        List<Object> sm4 = new ArrayList<>();
        for (int k = 0; k < sm4Keys.size(); k++) {
            for (int p = 0; p < plaintexts.size(); p++) {
                Cipher cipher = Cipher.getInstance("SM4/ECB/PKCS5Padding", BC);
                cipher.init(Cipher.ENCRYPT_MODE, sm4Key(sm4Keys.get(k)));
                byte[] sealed = cipher.doFinal(((String) plaintexts.get(p)).getBytes(StandardCharsets.UTF_8));
                Map<String, Object> entry = new LinkedHashMap<>();
                entry.put("key", (long) k);
                entry.put("plaintext", (long) p);
                entry.put("base64", Base64.getEncoder().encodeToString(sealed));
                sm4.add(entry);
            }
        }
        out.put("sm4", sm4);

        if (cases.containsKey("verify")) {
            List<Object> verified = new ArrayList<>();
            for (Object v : list(cases.get("verify"))) {
                verified.add(verify(keys, messages, obj(v)));
            }
            out.put("verified", verified);
        }
        if (cases.containsKey("decrypt")) {
            List<Object> decrypted = new ArrayList<>();
            for (Object d : list(cases.get("decrypt"))) {
                Map<String, Object> entry = obj(d);
                try {
                    Cipher cipher = Cipher.getInstance("SM4/ECB/PKCS5Padding", BC);
                    cipher.init(Cipher.DECRYPT_MODE, sm4Key(sm4Keys.get((int) (long) (Long) entry.get("key"))));
                    byte[] plain = cipher.doFinal(Base64.getDecoder().decode((String) entry.get("base64")));
                    decrypted.add(new String(plain, StandardCharsets.UTF_8));
                } catch (java.security.GeneralSecurityException e) {
                    decrypted.add(null); // a wrong key
                }
            }
            out.put("decrypted", decrypted);
        }
        StringBuilder sb = new StringBuilder();
        Json.write(out, sb, 0);
        sb.append('\n');
        System.out.write(sb.toString().getBytes(StandardCharsets.UTF_8));
        System.out.flush();
    }

    static ECPrivateKeyParameters privateKey(Map<String, Object> keys, String name) {
        return new ECPrivateKeyParameters(new BigInteger((String) obj(keys.get(name)).get("private"), 16), DOMAIN);
    }

    static ECPublicKeyParameters publicKey(Map<String, Object> keys, String name) {
        String hex = (String) obj(keys.get(name)).get("public");
        return new ECPublicKeyParameters(DOMAIN.getCurve().decodePoint(Hex.decode(hex)), DOMAIN);
    }

    static DSAEncoding encoding(String form) {
        return form.equals("der") ? StandardDSAEncoding.INSTANCE : PlainDSAEncoding.INSTANCE;
    }

    /** As Hutool: no ParametersWithID for the standard ID (BC's default), one otherwise. */
    static CipherParameters withId(CipherParameters param, Object userId) {
        if (userId == null || STANDARD_ID.equals(userId)) {
            return param;
        }
        return new ParametersWithID(param, ((String) userId).getBytes(StandardCharsets.UTF_8));
    }

    static byte[] sign(Map<String, Object> keys, Map<String, Object> messages, Map<String, Object> job,
            String form) throws Exception {
        byte[] message = ((String) messages.get(job.get("message"))).getBytes(StandardCharsets.UTF_8);
        String shape = (String) job.getOrDefault("shape", "any");
        for (int i = 0; i < 20000; i++) {
            SM2Signer signer = new SM2Signer(encoding(form), new SM3Digest());
            signer.init(true, withId(new ParametersWithRandom(privateKey(keys, (String) job.get("key")), RANDOM),
                    job.get("user_id")));
            signer.update(message, 0, message.length);
            byte[] sig = signer.generateSignature();
            BigInteger[] rs = encoding(form).decode(DOMAIN.getN(), sig);
            if (hasShape(shape, rs[0], rs[1])) {
                return sig;
            }
        }
        throw new IllegalStateException("no signature of shape " + shape + " in 20000 tries");
    }

    static boolean hasShape(String shape, BigInteger r, BigInteger s) {
        switch (shape) {
            case "any": return true;
            case "short_r": return r.bitLength() <= 248;
            case "short_s": return s.bitLength() <= 248;
            case "high_r": return r.bitLength() == 256;
            default: throw new IllegalArgumentException("unknown shape " + shape);
        }
    }

    static boolean verify(Map<String, Object> keys, Map<String, Object> messages, Map<String, Object> v) {
        try {
            byte[] message = ((String) messages.get(v.get("message"))).getBytes(StandardCharsets.UTF_8);
            SM2Signer signer = new SM2Signer(encoding((String) v.get("form")), new SM3Digest());
            signer.init(false, withId(publicKey(keys, (String) v.get("key")), v.get("user_id")));
            signer.update(message, 0, message.length);
            return signer.verifySignature(Hex.decode((String) v.get("hex")));
        } catch (RuntimeException e) {
            return false; // what BC cannot parse does not verify
        }
    }

    static SecretKeySpec sm4Key(Object entry) {
        Map<String, Object> key = obj(entry);
        String text = (String) key.get("text");
        byte[] bytes = "hex".equals(key.get("form")) ? Hex.decode(text) : text.getBytes(StandardCharsets.UTF_8);
        return new SecretKeySpec(bytes, "SM4");
    }

    @SuppressWarnings("unchecked")
    static Map<String, Object> obj(Object o) {
        return (Map<String, Object>) o;
    }

    @SuppressWarnings("unchecked")
    static List<Object> list(Object o) {
        return (List<Object>) o;
    }

    /** Just enough JSON for the case files: objects, arrays, strings, integers, booleans, null. */
    static final class Json {
        final String s;
        int i;

        Json(String s) {
            this.s = s;
        }

        Object value() {
            skip();
            char c = s.charAt(i);
            if (c == '{') {
                Map<String, Object> m = new LinkedHashMap<>();
                i++;
                skip();
                if (s.charAt(i) == '}') {
                    i++;
                    return m;
                }
                while (true) {
                    skip();
                    String k = string();
                    skip();
                    expect(':');
                    m.put(k, value());
                    skip();
                    if (s.charAt(i++) == '}') {
                        return m;
                    }
                }
            }
            if (c == '[') {
                List<Object> l = new ArrayList<>();
                i++;
                skip();
                if (s.charAt(i) == ']') {
                    i++;
                    return l;
                }
                while (true) {
                    l.add(value());
                    skip();
                    if (s.charAt(i++) == ']') {
                        return l;
                    }
                }
            }
            if (c == '"') {
                return string();
            }
            if (s.startsWith("true", i)) {
                i += 4;
                return Boolean.TRUE;
            }
            if (s.startsWith("false", i)) {
                i += 5;
                return Boolean.FALSE;
            }
            if (s.startsWith("null", i)) {
                i += 4;
                return null;
            }
            int start = i;
            while (i < s.length() && "-0123456789".indexOf(s.charAt(i)) >= 0) {
                i++;
            }
            return Long.parseLong(s.substring(start, i));
        }

        String string() {
            expect('"');
            StringBuilder sb = new StringBuilder();
            while (true) {
                char c = s.charAt(i++);
                if (c == '"') {
                    return sb.toString();
                }
                if (c != '\\') {
                    sb.append(c);
                    continue;
                }
                char e = s.charAt(i++);
                switch (e) {
                    case 'n': sb.append('\n'); break;
                    case 'r': sb.append('\r'); break;
                    case 't': sb.append('\t'); break;
                    case 'b': sb.append('\b'); break;
                    case 'f': sb.append('\f'); break;
                    case 'u': sb.append((char) Integer.parseInt(s.substring(i, i + 4), 16)); i += 4; break;
                    default: sb.append(e);
                }
            }
        }

        void skip() {
            while (i < s.length() && Character.isWhitespace(s.charAt(i))) {
                i++;
            }
        }

        void expect(char c) {
            if (s.charAt(i++) != c) {
                throw new IllegalArgumentException("JSON: '" + c + "' expected at " + (i - 1));
            }
        }

        /** As Python's json.dump(indent=1) and JSON.stringify(value, null, 1) write it. */
        static void write(Object o, StringBuilder sb, int depth) {
            if (o == null) {
                sb.append("null");
            } else if (o instanceof String) {
                sb.append('"');
                for (char c : ((String) o).toCharArray()) {
                    if (c == '"' || c == '\\') {
                        sb.append('\\').append(c);
                    } else if (c < 0x20) {
                        sb.append(String.format("\\u%04x", (int) c));
                    } else {
                        sb.append(c);
                    }
                }
                sb.append('"');
            } else if (o instanceof Map || o instanceof List) {
                boolean map = o instanceof Map;
                Iterable<?> items = map ? ((Map<?, ?>) o).entrySet() : (List<?>) o;
                if (!items.iterator().hasNext()) {
                    sb.append(map ? "{}" : "[]");
                    return;
                }
                sb.append(map ? '{' : '[');
                String sep = "\n";
                for (Object item : items) {
                    sb.append(sep).append(" ".repeat(depth + 1));
                    sep = ",\n";
                    if (map) {
                        Map.Entry<?, ?> e = (Map.Entry<?, ?>) item;
                        write(e.getKey(), sb, depth + 1);
                        sb.append(": ");
                        write(e.getValue(), sb, depth + 1);
                    } else {
                        write(item, sb, depth + 1);
                    }
                }
                sb.append('\n').append(" ".repeat(depth)).append(map ? '}' : ']');
            } else {
                sb.append(o);
            }
        }
    }
}
