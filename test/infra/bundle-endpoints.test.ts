/**
 * sdkPartitionSlimming (infra/bundling/sdk-plugins.ts) leaves the regions' descriptions out of the
 * endpoint rules' partition table. A probe (support/endpoint-probe.ts) bundled exactly as the tasks are
 * and once without the plugins resolves, with every SDK client the tasks use, the endpoint of every
 * region of the shipped table (and regions it does not list), FIPS and dual-stack on and off: the same
 * URLs, properties and errors either way, and only the bundle without the plugin holds the descriptions.
 */
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { createRequire } from 'node:module';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { partitionsWithoutDescriptions } from '../../infra/bundling/sdk-plugins';
import { bundleProbe, runProbe } from './support/run-probe';

const dir = mkdtempSync(join(tmpdir(), 'dr-bundle-endpoints-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

// …/@aws-sdk/core/dist-cjs/submodules/client/index.js → …/dist-es/…/lib/aws/partitions.js
const cjs = createRequire(import.meta.url).resolve('@aws-sdk/core/client');
const PARTITIONS_JS = readFileSync(
  join(
    cjs,
    '..',
    '..',
    '..',
    '..',
    'dist-es',
    'submodules',
    'client',
    'util-endpoints',
    'lib',
    'aws',
    'partitions.js',
  ),
  'utf8',
);
type Table = { partitions: { id: string; regions: Record<string, Record<string, unknown>> }[] };
const table = (js: string): Table =>
  JSON.parse(
    js
      .trim()
      .replace(/^export const partitionsInfo = /, '')
      .replace(/;$/, ''),
  );
const REGIONS = table(PARTITIONS_JS).partitions.flatMap((p) => Object.keys(p.regions));
/** Regions the table does not list: matched by a partition's regex, or by none (the `aws` default). */
const UNLISTED = ['eu-north-9', 'us-gov-east-9', 'cn-north-9', 'us-isob-west-9', 'mars-central-1'];

describe('the task bundles without the partition table’s region descriptions', () => {
  it('drops only the descriptions: same partitions, regions and their other fields', () => {
    const shipped = table(PARTITIONS_JS);
    const slim = table(partitionsWithoutDescriptions(PARTITIONS_JS));
    expect(REGIONS.length).toBeGreaterThan(40);
    expect(JSON.stringify(slim)).not.toMatch(/description/);
    for (const p of shipped.partitions) for (const r of Object.values(p.regions)) delete r.description;
    expect(slim).toEqual(shipped);
    expect(() => partitionsWithoutDescriptions('export const other = {};')).toThrow(/SDK changed/);
  });

  it('every task client resolves every region’s endpoint the same as the bundle with the descriptions', {
    timeout: 120_000,
  }, async () => {
    const env = { PROBE_REGIONS: JSON.stringify([...REGIONS, ...UNLISTED]) };
    const whole = await runProbe('endpoint-probe', false, undefined, dir, env);
    const slim = await runProbe('endpoint-probe', true, undefined, dir, env);
    expect(slim).toEqual(whole);
    expect(Object.keys(slim)).toHaveLength(10);
    for (const byRegion of Object.values(slim)) {
      expect(Object.keys(byRegion)).toHaveLength((REGIONS.length + UNLISTED.length) * 4);
    }
    expect(slim.sqs?.['eu-west-1 fips=false dualstack=false']).toMatchObject({
      url: 'https://sqs.eu-west-1.amazonaws.com/',
    });
    expect(slim.sts?.['cn-north-1 fips=false dualstack=false']).toMatchObject({
      url: 'https://sts.cn-north-1.amazonaws.com.cn/',
    });
    const withDescriptions = (await bundleProbe('endpoint-probe', false, dir)).outfile;
    const without = (await bundleProbe('endpoint-probe', true, dir)).outfile;
    expect(readFileSync(withDescriptions, 'utf8')).toContain('Asia Pacific (Tokyo)');
    expect(readFileSync(without, 'utf8')).not.toContain('Asia Pacific (Tokyo)');
  });
});
