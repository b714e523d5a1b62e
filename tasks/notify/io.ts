/**
 * Notify's two ways out: the channel secrets (Powertools Parameters, cached SECRET_MAX_AGE_SECONDS so a
 * rotated secret reaches warm functions, as the approval signing secret is read) and one HTTP POST (Node's
 * fetch: a per-request timeout, redirects refused so a signed body never goes anywhere but the named URL).
 */
import { SecretsProvider } from '@aws-lambda-powertools/parameters/secrets';
import type { SecretsManagerClient } from '@aws-sdk/client-secrets-manager';
import { awsCall } from '../shared/errors';
import type { HttpResponse } from './core';

export const SECRET_MAX_AGE_SECONDS = 300;
/** One POST's time budget (ms). */
export const POST_TIMEOUT_MS = 4000;

let provider: { client: SecretsManagerClient; secrets: SecretsProvider } | undefined;

/** A channel secret's string value (a binary secret is read as UTF-8). */
export async function readSecret(client: SecretsManagerClient, ref: string): Promise<string> {
  if (provider?.client !== client)
    provider = { client, secrets: new SecretsProvider({ awsSdkV3Client: client }) };
  const store = provider.secrets;
  const value = await awsCall('GetSecretValue(notification channel)', () =>
    store.get(ref, { maxAge: SECRET_MAX_AGE_SECONDS }),
  );
  if (value === undefined) throw new Error(`secret ${ref} has no value`);
  return typeof value === 'string' ? value : Buffer.from(value).toString('utf8');
}

export async function httpPost(
  url: string,
  body: string,
  headers: Record<string, string>,
): Promise<HttpResponse> {
  const res = await fetch(url, {
    method: 'POST',
    body,
    headers,
    redirect: 'manual',
    signal: AbortSignal.timeout(POST_TIMEOUT_MS),
  });
  await res.body?.cancel();
  return { status: res.status };
}
