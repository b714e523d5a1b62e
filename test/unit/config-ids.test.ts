/**
 * Config's resource types and ids in the event contract (#11 item 3): every type in the SDK's published
 * ResourceType enum (the Config service model) and the account pseudo-type `AWS::::Account` are valid
 * event types; IAM unique ids are recognised by type.
 */
import { ResourceType } from '@aws-sdk/client-config-service';
import * as v from 'valibot';
import { describe, expect, it } from 'vitest';
import { RemediationEvent } from '../../tasks/shared/contracts';
import { isUniqueId } from '../../tasks/shared/resource-ids-config';

const base = {
  eventId: 'e-1',
  source: 'config',
  configRuleName: 'r',
  resourceId: 'x-1',
  awsAccountId: '123456789012',
  awsRegion: 'eu-west-1',
  complianceType: 'NON_COMPLIANT',
  orderingTimestamp: '2026-11-23T10:00:00.000Z',
};

describe('Config resource types in events', () => {
  it('accepts every type of the published Config model and AWS::::Account', () => {
    const types = [...Object.values(ResourceType), 'AWS::::Account'];
    expect(types.length).toBeGreaterThan(400);
    const refused = types.filter((t) => !v.safeParse(RemediationEvent, { ...base, resourceType: t }).success);
    expect(refused).toEqual([]);
  });
  it('refuses what is not a type', () => {
    for (const t of ['AWS::', 'aws::s3::bucket', 'AWS::S3::Bucket; rm', 'Custom::Thing'])
      expect(v.safeParse(RemediationEvent, { ...base, resourceType: t }).success, t).toBe(false);
  });
  it('IAM unique ids by type: AROA… roles, AIDA… users', () => {
    expect(isUniqueId('AWS::IAM::Role', 'AROAEXAMPLEID00000001')).toBe(true);
    expect(isUniqueId('AWS::IAM::Role', 'my-role')).toBe(false);
    expect(isUniqueId('AWS::IAM::Role', 'AIDAEXAMPLEID00000001')).toBe(false);
    expect(isUniqueId('AWS::IAM::User', 'AIDAEXAMPLEID00000001')).toBe(true);
    expect(isUniqueId('AWS::S3::Bucket', 'AROAEXAMPLEID00000001')).toBe(false);
  });
});
