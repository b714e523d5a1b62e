/**
 * Bundled by test/infra/bundle-sha256.test.ts (with and without the SDK plugins) and run in a fresh Node
 * process: what every SDK client's SHA-256 (`Sha256` of @smithy/core/checksum, the clients' `sha256`)
 * computes — digests and HMACs of strings and bytes, fed in one piece and in several, and a SigV4
 * signature (the signer the clients use) of a fixed request at a fixed time — as one JSON line of hex.
 */
import { SQSClient } from '@aws-sdk/client-sqs';
import { Sha256 } from '@smithy/core/checksum';
import { HttpRequest } from '@smithy/core/protocols';
import { SignatureV4 } from '@smithy/signature-v4';

const hex = (b: Uint8Array): string => Buffer.from(b).toString('hex');
const bytes = Uint8Array.from({ length: 100_000 }, (_, i) => (i * 31 + 7) % 256);

async function digest(secret: string | undefined, parts: (string | Uint8Array)[]): Promise<string> {
  const h = new Sha256(secret);
  for (const p of parts) h.update(typeof p === 'string' ? new TextEncoder().encode(p) : p);
  return hex(await h.digest());
}

const signer = new SignatureV4({
  service: 'sqs',
  region: 'eu-west-1',
  sha256: Sha256,
  credentials: { accessKeyId: 'AKIDEXAMPLE', secretAccessKey: 'wJalrXUtnFEMI/K7MDENG+bPxRfiCYEXAMPLEKEY' },
});
const signed = await signer.sign(
  new HttpRequest({
    method: 'POST',
    protocol: 'https:',
    hostname: 'sqs.eu-west-1.amazonaws.com',
    path: '/',
    headers: { host: 'sqs.eu-west-1.amazonaws.com', 'content-type': 'application/x-amz-json-1.0' },
    body: '{"QueueUrl":"https://sqs.eu-west-1.amazonaws.com/123456789012/q","MessageBody":"é ☃"}',
  }),
  { signingDate: new Date('2026-12-07T12:00:00Z') },
);

console.log(
  JSON.stringify({
    digests: {
      empty: await digest(undefined, ['']),
      abc: await digest(undefined, ['abc']),
      unicode: await digest(undefined, ['é ☃ 𝄞']),
      bytes: await digest(undefined, [bytes]),
      inParts: await digest(undefined, [bytes.subarray(0, 3), 'abc', bytes.subarray(3)]),
    },
    hmacs: {
      abc: await digest('key', ['abc']),
      bytes: await digest('a longer secret key, longer than one 64-byte block of SHA-256 input', [bytes]),
    },
    sigv4: { authorization: String(signed.headers.authorization) },
    client: { usesThisSha256: new SQSClient({ region: 'eu-west-1' }).config.sha256 === Sha256 },
  }),
);
