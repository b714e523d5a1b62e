/**
 * SSM's tagging API over documents: AddTagsToResource (adds or overwrites; at most 50 tags on a resource),
 * RemoveTagsFromResource and ListTagsForResource, each naming its resource by `ResourceType` and
 * `ResourceId` (IAM authorizes them on the ARN those name: ../iam/actions.ts). The sandbox keeps documents
 * only: another ResourceType AWS knows (Parameter, Automation, MaintenanceWindow, …) is refused as
 * InvalidResourceType; a document that does not exist, or an AWS-owned one, is InvalidResourceId.
 */
import { AwsError } from '../../core/types';
import { AMAZON_OWNER, type SsmStore, type StoredDocument } from './store';

type Input = Record<string, unknown>;
type Tag = { Key: string; Value: string };

/** AWS's limit for most SSM resources (automations: 5). */
const MAX_TAGS = 50;

function taggedDocument(store: SsmStore, input: Input): StoredDocument {
  const type = input.ResourceType;
  const id = input.ResourceId;
  if (type !== 'Document')
    throw new AwsError(
      'InvalidResourceType',
      `The resource type isn't valid: the sandbox tags SSM documents only (ResourceType Document), not ${String(type)}.`,
    );
  const d = typeof id === 'string' ? store.documents.get(id) : undefined;
  if (!d || d.owner === AMAZON_OWNER)
    throw new AwsError(
      'InvalidResourceId',
      "The resource ID isn't valid. Verify that you entered the correct ID and try again.",
    );
  return d;
}

function tagsOf(input: Input): Tag[] {
  const tags = Array.isArray(input.Tags) ? (input.Tags as unknown[]) : [];
  const valid = tags.filter(
    (t): t is Tag =>
      typeof t === 'object' &&
      t !== null &&
      typeof (t as Tag).Key === 'string' &&
      (t as Tag).Key.length >= 1 &&
      (t as Tag).Key.length <= 128 &&
      typeof (t as Tag).Value === 'string' &&
      (t as Tag).Value.length <= 256,
  );
  if (tags.length === 0 || valid.length !== tags.length)
    throw new AwsError(
      'ValidationException',
      'Tags must list 1 or more tags, each with a Key of 1 to 128 characters and a Value of up to 256.',
    );
  return valid;
}

/** The tagging operations, by API name. */
export function taggingOperations(store: SsmStore) {
  return {
    AddTagsToResource: (input: Input) => {
      const d = taggedDocument(store, input);
      const merged = new Map(d.tags.map((t) => [t.Key, t.Value]));
      for (const t of tagsOf(input)) merged.set(t.Key, t.Value);
      if (merged.size > MAX_TAGS)
        throw new AwsError(
          'TooManyTagsError',
          'The Targets parameter includes too many tags. Remove one or more tags and try the command again.',
        );
      d.tags = [...merged].map(([Key, Value]) => ({ Key, Value }));
      return {};
    },
    RemoveTagsFromResource: (input: Input) => {
      const d = taggedDocument(store, input);
      const keys = Array.isArray(input.TagKeys) ? input.TagKeys : [];
      d.tags = d.tags.filter((t) => !keys.includes(t.Key));
      return {};
    },
    ListTagsForResource: (input: Input) => ({ TagList: taggedDocument(store, input).tags }),
  };
}
