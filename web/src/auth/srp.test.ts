import { describe, expect, it } from 'vitest';
import { serverChallenge, verifierFor } from './testing/srpServer';
import { base64ToBytes, cognitoTimestamp, padHex, passwordAuthenticationKey, passwordClaimSignature, srpKeyPair } from './srp';

const hex = (bytes: Uint8Array) => Buffer.from(bytes).toString('hex');

describe("Cognito's SRP", () => {
  it('derives the key and signature that a server holding only the verifier expects', async () => {
    const verifier = verifierFor('AbC123', 'user-id-1', 'Correct-Horse-9!');
    const keyPair = srpKeyPair();
    const server = serverChallenge(verifier, keyPair.A.toString(16));
    const key = await passwordAuthenticationKey({
      poolName: 'AbC123',
      userIdForSrp: 'user-id-1',
      password: 'Correct-Horse-9!',
      keyPair,
      salt: server.salt,
      srpB: server.srpB,
    });
    expect(hex(key)).toBe(server.key.toString('hex'));
    const timestamp = 'Wed Jan 1 00:00:00 UTC 2025';
    expect(await passwordClaimSignature(key, 'AbC123', 'user-id-1', server.secretBlock, timestamp)).toBe(
      server.expectedSignature('AbC123', 'user-id-1', timestamp),
    );
  });

  it.each([
    ['a wrong password', 'AbC123', 'user-id-1', 'Correct-Horse-8!'],
    ['another user', 'AbC123', 'user-id-2', 'Correct-Horse-9!'],
    ['another pool', 'XyZ789', 'user-id-1', 'Correct-Horse-9!'],
  ])('derives a key the server does not accept for %s', async (_, poolName, userIdForSrp, password) => {
    const verifier = verifierFor('AbC123', 'user-id-1', 'Correct-Horse-9!');
    const keyPair = srpKeyPair();
    const server = serverChallenge(verifier, keyPair.A.toString(16));
    const key = await passwordAuthenticationKey({ poolName, userIdForSrp, password, keyPair, salt: server.salt, srpB: server.srpB });
    expect(hex(key)).not.toBe(server.key.toString('hex'));
  });

  // Computed once with amazon-cognito-identity-js 6.3.21 (AuthenticationHelper with its smallAValue set
  // to `a`, then getPasswordAuthenticationKey, and the signature as CognitoUser builds it). The salt
  // and A have their top bit set, B does not: both branches of padHex are in the hashes.
  const reference = {
    a: '9938c4df56795567396eaa4baa758a29cdc3c8c2d6a90cfb1f996ccb6092c01a5b9002904176b7aaf99692a50e5107cb55a86d86ee3f2c9405a67539f36bdd4b'.repeat(2),
    salt: '8f3a2b1c4d5e6f708192a3b4c5d6e7f8',
    srpB: '62cda60e219d17a86317be7ae5f0e953d4e15b6ef9342645ae1ed4fd499036a765490cc686280ff4d58215e95bb93a49141124c8d0120a85e8299947bc8abeab'.repeat(6),
    A: 'e078dc91c6e1d265275d4594ca43e2502abfc18083bbe94e47d698e4443d311967b39c4ab0b3ac7e9df4bf939a0ff07794723fbe52513f2a27a02bea12d81083eae87831794024b5470535c55679de25f4b7cc55531a480582df4cec4118f8c9aed8961b2cf9ffdd9e3a335a3137983d2e7115e28e5679b467c064334bad5001a49e435a5fa545467b59376d7fcb5e4d4fac3e3c69b5557383b0b309496671c3a658107628c87b23b97a2297f23bfa49672df9c9bdab9fb8e1eecf5515ceb20f2799187ee93a443af3263f79b8a2cf4af07ac72a5ec6acaf30bd2a72d1126a3da9d75b8d299bc6f08a2214f8c143fa22724a6425585ad1b3e2407b811500dc61be659e0b29e8ca1318b354522310343cd6066d3e2106cc2c29e7c954eee788e66b06aa8061f0074d19c369d1ed398f30380e92430935513a37922241fee717dab06f52f6a590a54e177fcfd537bb687cf7e8694f132f7651e826ef6d182f2c40dabfd7157b9b6c8b41b0a052fddb33dbf878b1ace679aac3cda5cd6e3701af51',
    key: '47cf93b787a06011d017ba84a9777100',
    secretBlock: 'c2VjcmV0IGJsb2NrIGJ5dGVzIAD/IGZyb20gQ29nbml0bw==',
    timestamp: 'Tue Mar 5 09:04:07 UTC 2024',
    signature: 'UV8o/EbvgAxbPhfbGcP/jm/IoHMU20o1AqwXpnRf/mw=',
  };

  it("matches Cognito's own client on fixed inputs", async () => {
    const keyPair = srpKeyPair(BigInt(`0x${reference.a}`));
    expect(keyPair.A.toString(16)).toBe(reference.A);
    const key = await passwordAuthenticationKey({
      poolName: 'AbC123xyz',
      userIdForSrp: '5f0e7c1a-user-id',
      password: 'Correct-Horse-9!',
      keyPair,
      salt: reference.salt,
      srpB: reference.srpB,
    });
    expect(hex(key)).toBe(reference.key);
    expect(await passwordClaimSignature(key, 'AbC123xyz', '5f0e7c1a-user-id', reference.secretBlock, reference.timestamp)).toBe(
      reference.signature,
    );
  });

  it('refuses a B that is zero modulo N', async () => {
    const input = { poolName: 'p', userIdForSrp: 'u', password: 'pw', keyPair: srpKeyPair(), salt: '01' };
    await expect(passwordAuthenticationKey({ ...input, srpB: '0' })).rejects.toThrow('SRP_B');
  });

  it.each([
    [0x14n, '14'],
    [0xecn, '00ec'],
    [0xabcn, '0abc'],
    [0x8000n, '008000'],
    [0x7fffn, '7fff'],
  ])('writes %s as Java writes its bytes: %s', (value, expected) => {
    expect(padHex(value)).toBe(expected);
  });

  it.each([
    [Date.UTC(2024, 2, 5, 9, 4, 7), 'Tue Mar 5 09:04:07 UTC 2024'],
    [Date.UTC(2023, 11, 25, 23, 59, 59), 'Mon Dec 25 23:59:59 UTC 2023'],
    [Date.UTC(2025, 0, 1, 0, 0, 0), 'Wed Jan 1 00:00:00 UTC 2025'],
  ])('formats the timestamp %s as %s (UTC, day not padded)', (epoch, expected) => {
    expect(cognitoTimestamp(new Date(epoch))).toBe(expected);
  });

  it.each([
    ['standard base64', 'c2VjcmV0IGJsb2NrIGJ5dGVzIAD/IGZyb20gQ29nbml0bw=='],
    ['URL-safe base64', 'AP_-_w'],
    ["moto's UUID secret block", '1b4e28ba-2fa1-11d2-883f-0016d3cca427'],
  ])('decodes %s like Node (and so amazon-cognito-identity-js) does', (_, text) => {
    expect(hex(base64ToBytes(text))).toBe(Buffer.from(text, 'base64').toString('hex'));
  });
});
