/**
 * The API calls a resource provider's handler makes, as AWS's handlers make them: each is authorized when
 * it is made, as the identity the handler acts for (ProviderContext.authorizeCall: the stack's role or
 * caller, a drift detection's reader), so a missing permission fails that call — and the resource, naming
 * the action — before `apply` changes anything; a permission for a call the handler does not make for
 * this template (ec2:CreateTags for an untagged group) is never needed. A mutating call is then recorded
 * for CloudTrail (ProviderContext.recordCall).
 */
import type { ProviderContext } from '../core/types';

type Input = Record<string, unknown>;

/** One call: authorized, applied to the store, recorded (output from the result, default `{}`). */
export async function handlerCall<T>(
  ctx: ProviderContext,
  service: string,
  operation: string,
  input: Input,
  apply: () => T,
  output?: (result: T) => unknown,
): Promise<T> {
  await ctx.authorizeCall?.(service, operation, input);
  const result = apply();
  ctx.recordCall?.(service, operation, input, output ? output(result) : {});
  return result;
}

/** `handlerCall` bound to one service, for a provider whose handler calls only that service. */
export function callsOf(service: string) {
  return <T>(
    ctx: ProviderContext,
    operation: string,
    input: Input,
    apply: () => T,
    output?: (result: T) => unknown,
  ): Promise<T> => handlerCall(ctx, service, operation, input, apply, output);
}

/** The read calls a read handler makes (nothing to change or record): each authorized in turn. */
export async function handlerReads(
  ctx: ProviderContext,
  service: string,
  calls: ReadonlyArray<readonly [operation: string, input: Input]>,
): Promise<void> {
  for (const [operation, input] of calls) await ctx.authorizeCall?.(service, operation, input);
}

/**
 * A create handler that failed after its resource was made (a later call refused or failing): the error
 * carries the resource's physical id, so CloudFormation records it and deletes it in the rollback (as AWS
 * does for a failed resource that has a physical id) and Cloud Control reports it as the request's
 * Identifier, leaving it. The handler's own error is the `cause`, reported as the failure.
 */
export class PartiallyCreated extends Error {
  override readonly name = 'PartiallyCreated';
  constructor(
    readonly physicalId: string,
    cause: unknown,
  ) {
    super(cause instanceof Error ? cause.message : String(cause), { cause });
  }
}

/** The rest of a create once its resource `physicalId` exists: a failure there is PartiallyCreated. */
export async function completeCreate<T>(physicalId: string, rest: () => Promise<T>): Promise<T> {
  try {
    return await rest();
  } catch (err) {
    throw new PartiallyCreated(physicalId, err);
  }
}
