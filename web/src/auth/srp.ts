// Cognito's Secure Remote Password sign-in (`USER_SRP_AUTH`, answered with `PASSWORD_VERIFIER`): the
// password never leaves the page, only a proof that the page knows it. This is SRP-6a in the exact
// variant Cognito's own client (amazon-cognito-identity-js, AuthenticationHelper) computes: the 3072-bit
// group of RFC 5054 with g = 2, SHA-256, every number hashed in Java's two's-complement byte form
// (`padHex`), and a 16-byte HKDF key ("Caldera Derived Key") that signs the server's secret block.
// BigInt does the arithmetic, WebCrypto the hashing: no dependency.

const N_HEX =
  'FFFFFFFFFFFFFFFFC90FDAA22168C234C4C6628B80DC1CD129024E088A67CC74020BBEA63B139B22514A08798E3404DD' +
  'EF9519B3CD3A431B302B0A6DF25F14374FE1356D6D51C245E485B576625E7EC6F44C42E9A637ED6B0BFF5CB6F406B7ED' +
  'EE386BFB5A899FA5AE9F24117C4B1FE649286651ECE45B3DC2007CB8A163BF0598DA48361C55D39A69163FA8FD24CF5F' +
  '83655D23DCA3AD961C62F356208552BB9ED529077096966D670C354E4ABC9804F1746C08CA18217C32905E462E36CE3B' +
  'E39E772C180E86039B2783A2EC07A28FB5C55DF06F4C52C9DE2BCBF6955817183995497CEA956AE515D2261898FA0510' +
  '15728E5A8AAAC42DAD33170D04507A33A85521ABDF1CBA64ECFB850458DBEF0A8AEA71575D060C7DB3970F85A6E1E4C7' +
  'ABF5AE8CDB0933D71E8C94E04A25619DCEE3D2261AD2EE6BF12FFA06D98A0864D87602733EC86A64521F2B18177B200C' +
  'BBE117577A615D6C770988C0BAD946E208E24FA074E5AB3143DB5BFCE0FD108E4B82D120A93AD2CAFFFFFFFFFFFFFFFF';

/** The group's prime modulus (RFC 5054, 3072-bit group). */
export const N = BigInt(`0x${N_HEX}`);
/** The group's generator. */
export const g = 2n;

const utf8 = new TextEncoder();

/**
 * The hex of a non-negative integer as Java's `BigInteger.toByteArray()` would write it: even length,
 * with a `00` byte in front when the top bit is set (so it is not read as negative). Every value hashed
 * here is reduced modulo N or is a hash, so none is negative.
 */
export function padHex(value: bigint): string {
  const hex = value.toString(16);
  const even = hex.length % 2 === 1 ? `0${hex}` : hex;
  return /^[89a-f]/.test(even) ? `00${even}` : even;
}

function hexToBytes(hex: string): Uint8Array<ArrayBuffer> {
  const bytes = new Uint8Array(hex.length / 2);
  for (let i = 0; i < bytes.length; i += 1) bytes[i] = Number.parseInt(hex.slice(2 * i, 2 * i + 2), 16);
  return bytes;
}

function bytesToHex(bytes: Uint8Array): string {
  return Array.from(bytes, (byte) => byte.toString(16).padStart(2, '0')).join('');
}

function concat(...parts: Uint8Array[]): Uint8Array<ArrayBuffer> {
  const out = new Uint8Array(parts.reduce((sum, part) => sum + part.length, 0));
  let at = 0;
  for (const part of parts) {
    out.set(part, at);
    at += part.length;
  }
  return out;
}

async function sha256Hex(bytes: Uint8Array<ArrayBuffer>): Promise<string> {
  return bytesToHex(new Uint8Array(await crypto.subtle.digest('SHA-256', bytes)));
}

/** H(x): SHA-256 of the bytes of a hex string, as an integer. */
async function hashHex(hex: string): Promise<bigint> {
  return BigInt(`0x${await sha256Hex(hexToBytes(hex))}`);
}

/** `base^exponent mod modulus`, square and multiply. */
function modPow(base: bigint, exponent: bigint, modulus: bigint): bigint {
  let result = 1n;
  let b = ((base % modulus) + modulus) % modulus;
  let e = exponent;
  while (e > 0n) {
    if (e & 1n) result = (result * b) % modulus;
    b = (b * b) % modulus;
    e >>= 1n;
  }
  return result;
}

let multiplier: Promise<bigint> | null = null;

/** k = H(pad(N) | pad(g)), computed once. */
function k(): Promise<bigint> {
  multiplier ??= hashHex(padHex(N) + padHex(g));
  return multiplier;
}

/** The page's ephemeral SRP key pair: the secret `a` (1024 random bits) and `A = g^a mod N`, sent as SRP_A. */
export interface SrpKeyPair {
  a: bigint;
  A: bigint;
}

export function srpKeyPair(a: bigint = randomInteger(128)): SrpKeyPair {
  return { a, A: modPow(g, a, N) };
}

function randomInteger(bytes: number): bigint {
  return BigInt(`0x${bytesToHex(crypto.getRandomValues(new Uint8Array(bytes)))}`);
}

export interface PasswordVerifierInput {
  /** The part of the user pool id after the underscore. */
  poolName: string;
  /** The challenge's USER_ID_FOR_SRP: the user name the password verifier was made with. */
  userIdForSrp: string;
  password: string;
  keyPair: SrpKeyPair;
  /** The challenge's SALT and SRP_B, hex. */
  salt: string;
  srpB: string;
}

/**
 * The 16-byte key both sides derive: x = H(pad(salt) | H(poolName | userId | ":" | password)),
 * u = H(pad(A) | pad(B)), S = (B - k·g^x)^(a + u·x) mod N, key = HKDF-SHA256(ikm = pad(S), salt = pad(u),
 * info = "Caldera Derived Key"). Throws on a B or u of zero, which a real server never sends.
 */
export async function passwordAuthenticationKey(input: PasswordVerifierInput): Promise<Uint8Array<ArrayBuffer>> {
  const { a, A } = input.keyPair;
  const B = BigInt(`0x${input.srpB}`);
  if (B % N === 0n) throw new Error('The server sent an SRP_B of zero.');
  const u = await hashHex(padHex(A) + padHex(B));
  if (u === 0n) throw new Error('The SRP scrambler u is zero.');
  const identity = await sha256Hex(utf8.encode(`${input.poolName}${input.userIdForSrp}:${input.password}`));
  const x = await hashHex(padHex(BigInt(`0x${input.salt}`)) + identity);
  const S = modPow(B - (await k()) * modPow(g, x, N), a + u * x, N);
  const ikm = await crypto.subtle.importKey('raw', hexToBytes(padHex(S)), 'HKDF', false, ['deriveBits']);
  const bits = await crypto.subtle.deriveBits(
    { name: 'HKDF', hash: 'SHA-256', salt: hexToBytes(padHex(u)), info: utf8.encode('Caldera Derived Key') },
    ikm,
    128,
  );
  return new Uint8Array(bits);
}

/** PASSWORD_CLAIM_SIGNATURE: base64(HMAC-SHA256(key, poolName | userIdForSrp | secret block bytes | timestamp)). */
export async function passwordClaimSignature(
  key: Uint8Array<ArrayBuffer>,
  poolName: string,
  userIdForSrp: string,
  secretBlock: string,
  timestamp: string,
): Promise<string> {
  const hmacKey = await crypto.subtle.importKey('raw', key, { name: 'HMAC', hash: 'SHA-256' }, false, ['sign']);
  const message = concat(utf8.encode(poolName), utf8.encode(userIdForSrp), base64ToBytes(secretBlock), utf8.encode(timestamp));
  const signature = new Uint8Array(await crypto.subtle.sign('HMAC', hmacKey, message));
  return btoa(String.fromCharCode(...signature));
}

const BASE64 = 'ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/';

/**
 * Decodes base64 the way Cognito's own client does (Node's `Buffer.from(text, 'base64')`): both the
 * standard and the URL-safe alphabet, other characters skipped, stops at padding. Cognito's SECRET_BLOCK
 * is standard base64; the leniency is what keeps the reference client working against servers that
 * send something else (moto sends a UUID).
 */
export function base64ToBytes(text: string): Uint8Array<ArrayBuffer> {
  const out: number[] = [];
  let bits = 0;
  let count = 0;
  for (const char of text) {
    if (char === '=') break;
    const value = char === '-' ? 62 : char === '_' ? 63 : BASE64.indexOf(char);
    if (value < 0) continue;
    // Only the bits not yet written out matter; the mask keeps the accumulator small.
    bits = ((bits << 6) | value) & 0xffff;
    count += 6;
    if (count >= 8) {
      count -= 8;
      out.push((bits >> count) & 0xff);
    }
  }
  return Uint8Array.from(out);
}

const DAYS = ['Sun', 'Mon', 'Tue', 'Wed', 'Thu', 'Fri', 'Sat'];
const MONTHS = ['Jan', 'Feb', 'Mar', 'Apr', 'May', 'Jun', 'Jul', 'Aug', 'Sep', 'Oct', 'Nov', 'Dec'];

/** The TIMESTAMP Cognito signs and checks: `ddd MMM D HH:mm:ss UTC YYYY` in UTC, the day not zero-padded. */
export function cognitoTimestamp(date: Date): string {
  const two = (n: number) => String(n).padStart(2, '0');
  return (
    `${DAYS[date.getUTCDay()]} ${MONTHS[date.getUTCMonth()]} ${date.getUTCDate()} ` +
    `${two(date.getUTCHours())}:${two(date.getUTCMinutes())}:${two(date.getUTCSeconds())} UTC ${date.getUTCFullYear()}`
  );
}
