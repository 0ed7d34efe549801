// hrss crypto as a JavaScript merchant does it with sm-crypto (npm install sm-crypto@0.5.8).
//
//     NODE_PATH=<folder>/node_modules node interop_smcrypto.js inputs.json > sm-crypto.json
//
// reads a case file (inputs.json here, or the one tests/hrss_interop.rs writes) and prints,
// as JSON: the public keys sm-crypto derives from the private keys, its signatures of the
// requested messages (raw r||s and DER, as hex: what doSignature returns), its SM4
// ciphertexts of the plaintexts (ECB, PKCS#7, turned into base64), and, when the case file
// asks, whether it verifies paymux's signatures ("verify") and what it decrypts paymux's
// ciphertexts to ("decrypt"). Nothing is compared here: the Rust tests compare.
//
// sm-crypto facts this relies on (src/sm2/index.js, src/sm4/index.js, 0.5.8):
// - doSignature/doVerifySignature hash with SM3 and the user ID (Z) by default since 0.4.0
//   (`hash: true`); before, a merchant had to say so or signed something else entirely.
//   `userId` defaults to 1234567812345678; `userId: ''` is the empty ID.
// - Signatures are raw r||s (128 hex digits) unless `der: true`.
// - The message is a string (read as UTF-8) and keys are hex; `publicKey` left out is
//   derived from the private key, as merchants usually leave it.
// - sm4.encrypt takes the key as 32 hex digits or as an array of 16 bytes, pads with
//   PKCS#7, works in ECB unless `mode: 'cbc'`, and returns hex unless `output: 'array'`.

'use strict'

const fs = require('fs')
const { sm2, sm4 } = require('sm-crypto')

const STANDARD_ID = '1234567812345678'

function rS(form, sigHex) {
  const raw = Buffer.from(sigHex, 'hex')
  if (form === 'raw') {
    return [BigInt('0x' + sigHex.slice(0, 64)), BigInt('0x' + sigHex.slice(64))]
  }
  // 30 L 02 Lr r 02 Ls s (a signature is always short-form length)
  const lr = raw[3]
  const ls = raw[5 + lr]
  const int = (bytes) => BigInt('0x' + (bytes.toString('hex') || '0'))
  return [int(raw.subarray(4, 4 + lr)), int(raw.subarray(6 + lr, 6 + lr + ls))]
}

function hasShape(shape, [r, s]) {
  switch (shape || 'any') {
    case 'any': return true
    case 'short_r': return r < 1n << 248n
    case 'short_s': return s < 1n << 248n
    case 'high_r': return r >= 1n << 255n
    default: throw new Error('unknown shape ' + shape)
  }
}

function options(form, userId) {
  const opts = { hash: true, der: form === 'der' }
  if (userId !== undefined) opts.userId = userId
  return opts
}

function sign(cases, job, form) {
  const key = cases.keys[job.key]
  const message = cases.messages[job.message]
  for (let i = 0; i < 20000; i++) {
    const sig = sm2.doSignature(message, key.private, options(form, job.user_id))
    if (hasShape(job.shape, rS(form, sig))) return sig
  }
  throw new Error('no signature of shape ' + job.shape + ' in 20000 tries')
}

function sm4Key(entry) {
  return entry.form === 'hex' ? entry.text : Array.from(Buffer.from(entry.text, 'utf8'))
}

function main() {
  const cases = JSON.parse(fs.readFileSync(process.argv[2], 'utf8'))
  const version = require('sm-crypto/package.json').version
  const out = { library: 'sm-crypto ' + version, public_keys: {}, signatures: [], sm4: [] }
  for (const [name, key] of Object.entries(cases.keys)) {
    out.public_keys[name] = sm2.getPublicKeyFromPrivateKey(key.private)
  }
  for (const job of cases.signatures || []) {
    for (const form of ['raw', 'der']) {
      out.signatures.push({ ...job, form, hex: sign(cases, job, form) })
    }
  }
  ;(cases.sm4_keys || []).forEach((key, k) => {
    ;(cases.plaintexts || []).forEach((plain, p) => {
      const cipher = sm4.encrypt(plain, sm4Key(key), { output: 'array' })
      out.sm4.push({ key: k, plaintext: p, base64: Buffer.from(cipher).toString('base64') })
    })
  })
  if (cases.verify) {
    out.verified = cases.verify.map((v) => {
      try {
        const key = cases.keys[v.key]
        return sm2.doVerifySignature(cases.messages[v.message], v.hex, key.public, options(v.form, v.user_id)) === true
      } catch (e) {
        return false
      }
    })
  }
  if (cases.decrypt) {
    out.decrypted = cases.decrypt.map((d) => {
      try {
        const hex = Buffer.from(d.base64, 'base64').toString('hex')
        return sm4.decrypt(hex, sm4Key(cases.sm4_keys[d.key]))
      } catch (e) {
        return null // a wrong key: 'padding is invalid'
      }
    })
  }
  process.stdout.write(JSON.stringify(out, null, 1) + '\n')
}

main()
