// Test-only: the server side of Cognito's SRP, written independently of the client library (Node's crypto
// module and bigint arithmetic) so the tests can check that the page proves a password the way a server
// holding only the verifier expects: v = g^x, B = k·v + g^b, S = (A·v^u)^b. moto accepts any proof, so
// this is the one check in CI of the proof the library computes.

import { createHash, createHmac, hkdfSync, randomBytes } from 'node:crypto';

const N = BigInt(
  '0xFFFFFFFFFFFFFFFFC90FDAA22168C234C4C6628B80DC1CD129024E088A67CC74020BBEA63B139B22514A08798E3404DD' +
    'EF9519B3CD3A431B302B0A6DF25F14374FE1356D6D51C245E485B576625E7EC6F44C42E9A637ED6B0BFF5CB6F406B7ED' +
    'EE386BFB5A899FA5AE9F24117C4B1FE649286651ECE45B3DC2007CB8A163BF0598DA48361C55D39A69163FA8FD24CF5F' +
    '83655D23DCA3AD961C62F356208552BB9ED529077096966D670C354E4ABC9804F1746C08CA18217C32905E462E36CE3B' +
    'E39E772C180E86039B2783A2EC07A28FB5C55DF06F4C52C9DE2BCBF6955817183995497CEA956AE515D2261898FA0510' +
    '15728E5A8AAAC42DAD33170D04507A33A85521ABDF1CBA64ECFB850458DBEF0A8AEA71575D060C7DB3970F85A6E1E4C7' +
    'ABF5AE8CDB0933D71E8C94E04A25619DCEE3D2261AD2EE6BF12FFA06D98A0864D87602733EC86A64521F2B18177B200C' +
    'BBE117577A615D6C770988C0BAD946E208E24FA074E5AB3143DB5BFCE0FD108E4B82D120A93AD2CAFFFFFFFFFFFFFFFF',
);
const G = 2n;

/** Java's BigInteger.toByteArray() of a non-negative integer. */
function javaBytes(value: bigint): Buffer {
  let hex = value.toString(16);
  if (hex.length % 2 === 1) hex = `0${hex}`;
  const bytes = Buffer.from(hex, 'hex');
  return (bytes[0] ?? 0) & 0x80 ? Buffer.concat([Buffer.from([0]), bytes]) : bytes;
}

function sha256(...parts: Buffer[]): Buffer {
  const hash = createHash('sha256');
  for (const part of parts) hash.update(part);
  return hash.digest();
}

function toInteger(bytes: Buffer): bigint {
  return BigInt(`0x${bytes.toString('hex')}`);
}

function power(base: bigint, exponent: bigint): bigint {
  let result = 1n;
  let b = base % N;
  for (let e = exponent; e > 0n; e >>= 1n) {
    if (e & 1n) result = (result * b) % N;
    b = (b * b) % N;
  }
  return result;
}

const K = toInteger(sha256(javaBytes(N), javaBytes(G)));

/** What Cognito stores for a password: the salt and the verifier v = g^x. */
export function verifierFor(poolName: string, userId: string, password: string, salt: Buffer = randomBytes(16)) {
  const x = toInteger(sha256(javaBytes(toInteger(salt)), sha256(Buffer.from(`${poolName}${userId}:${password}`))));
  return { salt, v: power(G, x) };
}

/** One sign-in attempt, server side: the challenge it sends, and the signature it then expects. */
export function serverChallenge(verifier: { salt: Buffer; v: bigint }, srpA: string) {
  const A = BigInt(`0x${srpA}`);
  const b = toInteger(randomBytes(128));
  const B = (K * verifier.v + power(G, b)) % N;
  const u = toInteger(sha256(javaBytes(A), javaBytes(B)));
  const S = power(A * power(verifier.v, u), b);
  const key = Buffer.from(hkdfSync('sha256', javaBytes(S), javaBytes(u), 'Caldera Derived Key', 16));
  const secretBlock = randomBytes(64).toString('base64');
  return {
    salt: verifier.salt.toString('hex'),
    srpB: B.toString(16),
    secretBlock,
    key,
    /** The PASSWORD_CLAIM_SIGNATURE a client that knows the password sends for `timestamp`. */
    expectedSignature(poolName: string, userId: string, timestamp: string): string {
      const message = Buffer.concat([
        Buffer.from(poolName),
        Buffer.from(userId),
        Buffer.from(secretBlock, 'base64'),
        Buffer.from(timestamp),
      ]);
      return createHmac('sha256', key).update(message).digest('base64');
    },
  };
}
