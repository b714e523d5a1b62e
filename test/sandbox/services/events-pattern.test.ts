/**
 * Event pattern matcher, table-driven from the examples in AWS's "Content filtering in Amazon EventBridge
 * event patterns" and "Comparison operators" documentation.
 */
import { describe, expect, it } from 'vitest';
import { InvalidPatternError, matchesPattern, parsePattern } from '../../../sandbox/services/events/pattern';

// The sample event the AWS docs use for content filtering examples (EC2 instance state change).
const ec2Event = {
  version: '0',
  id: '6a7e8feb-b491-4cf7-a9f1-bf3703467718',
  'detail-type': 'EC2 Instance State-change Notification',
  source: 'aws.ec2',
  account: '111122223333',
  time: '2017-12-22T18:43:48Z',
  region: 'us-west-1',
  resources: ['arn:aws:ec2:us-west-1:123456789012:instance/i-1234567890abcdef0'],
  detail: {
    'instance-id': 'i-1234567890abcdef0',
    state: 'terminated',
    'c-count': 5,
    'd-count': 3,
    'x-limit': 301.8,
    'source-ip': '10.0.0.123',
    FileName: 'image.png',
    filePath: '/usr/lib/file.so',
    service: 'EventBridge',
    location: 'us-east-1',
    tags: ['prod', 'web'],
    nested: { items: [{ kind: 'a' }, { kind: 'b' }] },
    empty: '',
    nothing: null,
  },
};

type Row = [string, Record<string, unknown>, boolean];

const rows: Row[] = [
  // exact matching, AND across fields, OR within a list
  ['exact source', { source: ['aws.ec2'] }, true],
  ['exact mismatch', { source: ['aws.s3'] }, false],
  ['OR within list', { source: ['aws.s3', 'aws.ec2'] }, true],
  [
    'AND across fields',
    { source: ['aws.ec2'], 'detail-type': ['EC2 Instance State-change Notification'] },
    true,
  ],
  ['AND fails if one field fails', { source: ['aws.ec2'], 'detail-type': ['Other'] }, false],
  ['nested detail field', { detail: { state: ['terminated'] } }, true],
  ['missing field does not match', { detail: { nope: ['x'] } }, false],
  ['exact number', { detail: { 'c-count': [5] } }, true],
  ['number is not string', { detail: { 'c-count': ['5'] } }, false],
  ['null value', { detail: { nothing: [null] } }, true],
  ['empty string', { detail: { empty: [''] } }, true],
  ['event array: any element matches', { detail: { tags: ['web'] } }, true],
  ['event array: none matches', { detail: { tags: ['dev'] } }, false],
  [
    'resources array',
    { resources: ['arn:aws:ec2:us-west-1:123456789012:instance/i-1234567890abcdef0'] },
    true,
  ],
  ['array of objects', { detail: { nested: { items: { kind: ['b'] } } } }, true],
  ['array of objects, no match', { detail: { nested: { items: { kind: ['c'] } } } }, false],
  // prefix / suffix (with equals-ignore-case)
  ['prefix on time', { time: [{ prefix: '2017-12-22' }] }, true],
  ['prefix mismatch', { time: [{ prefix: '2018' }] }, false],
  ['prefix ignore case', { detail: { service: [{ prefix: { 'equals-ignore-case': 'eventb' } }] } }, true],
  ['suffix', { detail: { FileName: [{ suffix: '.png' }] } }, true],
  ['suffix mismatch', { detail: { FileName: [{ suffix: '.jpg' }] } }, false],
  ['suffix ignore case', { detail: { FileName: [{ suffix: { 'equals-ignore-case': '.PNG' } }] } }, true],
  [
    'equals-ignore-case',
    { 'detail-type': [{ 'equals-ignore-case': 'ec2 instance state-change notification' }] },
    true,
  ],
  // wildcard
  ['wildcard middle', { detail: { filePath: [{ wildcard: '/usr/*/file.so' }] } }, true],
  ['wildcard mismatch', { detail: { filePath: [{ wildcard: '/opt/*' }] } }, false],
  ['wildcard several', { source: [{ wildcard: 'aws.*' }], region: [{ wildcard: 'us-*-1' }] }, true],
  ['escaped star is literal', { detail: { FileName: [{ wildcard: 'image\\*' }] } }, false],
  // anything-but
  ['anything-but string', { detail: { state: [{ 'anything-but': 'initializing' }] } }, true],
  ['anything-but same string', { detail: { state: [{ 'anything-but': 'terminated' }] } }, false],
  ['anything-but number', { detail: { 'x-limit': [{ 'anything-but': 123 }] } }, true],
  ['anything-but list', { detail: { state: [{ 'anything-but': ['stopped', 'overloaded'] }] } }, true],
  [
    'anything-but list containing value',
    { detail: { state: [{ 'anything-but': ['stopped', 'terminated'] }] } },
    false,
  ],
  ['anything-but number list', { detail: { 'c-count': [{ 'anything-but': [100, 200, 5] }] } }, false],
  ['anything-but prefix', { detail: { state: [{ 'anything-but': { prefix: 'init' } }] } }, true],
  ['anything-but prefix matching', { detail: { state: [{ 'anything-but': { prefix: 'term' } }] } }, false],
  ['anything-but suffix', { detail: { FileName: [{ 'anything-but': { suffix: '.png' } }] } }, false],
  [
    'anything-but ignore case',
    { detail: { state: [{ 'anything-but': { 'equals-ignore-case': 'TERMINATED' } }] } },
    false,
  ],
  [
    'anything-but ignore case list',
    { detail: { state: [{ 'anything-but': { 'equals-ignore-case': ['RUNNING', 'STOPPED'] } }] } },
    true,
  ],
  ['anything-but wildcard', { detail: { filePath: [{ 'anything-but': { wildcard: '*/lib/*' } }] } }, false],
  ['anything-but on missing field', { detail: { nope: [{ 'anything-but': 'x' }] } }, false],
  // numeric
  ['numeric range', { detail: { 'c-count': [{ numeric: ['>', 0, '<=', 5] }] } }, true],
  ['numeric range excludes', { detail: { 'c-count': [{ numeric: ['>', 5] }] } }, false],
  ['numeric equals', { detail: { 'd-count': [{ numeric: ['=', 3] }] } }, true],
  ['numeric less than', { detail: { 'x-limit': [{ numeric: ['<', 10] }] } }, false],
  ['numeric decimal', { detail: { 'x-limit': [{ numeric: ['>=', 301.8] }] } }, true],
  ['numeric on string', { detail: { state: [{ numeric: ['>', 0] }] } }, false],
  // exists
  ['exists true', { detail: { state: [{ exists: true }] } }, true],
  ['exists true on missing', { detail: { nope: [{ exists: true }] } }, false],
  ['exists false on missing', { detail: { nope: [{ exists: false }] } }, true],
  ['exists false on present', { detail: { state: [{ exists: false }] } }, false],
  ['exists true on an object (not a leaf)', { detail: { nested: [{ exists: true }] } }, false],
  // cidr
  ['cidr IPv4', { detail: { 'source-ip': [{ cidr: '10.0.0.0/24' }] } }, true],
  ['cidr IPv4 outside', { detail: { 'source-ip': [{ cidr: '10.0.1.0/24' }] } }, false],
  ['cidr /32', { detail: { 'source-ip': [{ cidr: '10.0.0.123/32' }] } }, true],
  // $or
  [
    '$or one branch',
    { detail: { $or: [{ 'c-count': [{ numeric: ['>', 100] }] }, { 'd-count': [{ numeric: ['<', 10] }] }] } },
    true,
  ],
  [
    '$or no branch',
    { detail: { $or: [{ 'c-count': [{ numeric: ['>', 100] }] }, { 'd-count': [{ numeric: ['>', 10] }] }] } },
    false,
  ],
  [
    '$or at the top level',
    {
      $or: [{ source: ['aws.s3'] }, { detail: { location: [{ prefix: 'us-' }] } }],
      'detail-type': [{ exists: true }],
    },
    true,
  ],
  // combining matchers in one list
  ['mixed list: any matcher', { detail: { state: ['running', { prefix: 'term' }] } }, true],
];

describe('EventBridge pattern matcher (documented examples)', () => {
  it.each(rows)('%s', (_name, pattern, expected) => {
    expect(matchesPattern(parsePattern(JSON.stringify(pattern)), ec2Event)).toBe(expected);
  });

  it('matches IPv6 CIDR ranges', () => {
    const event = { detail: { ip: '2001:db8::1' } };
    expect(matchesPattern({ detail: { ip: [{ cidr: '2001:db8::/32' }] } }, event)).toBe(true);
    expect(matchesPattern({ detail: { ip: [{ cidr: '2001:db9::/32' }] } }, event)).toBe(false);
  });

  it('matches the Config compliance-change rule the project uses', () => {
    const pattern = {
      source: ['aws.config'],
      'detail-type': ['Config Rules Compliance Change'],
      detail: {
        messageType: ['ComplianceChangeNotification'],
        newEvaluationResult: { complianceType: ['NON_COMPLIANT'] },
      },
    };
    const event = {
      source: 'aws.config',
      'detail-type': 'Config Rules Compliance Change',
      detail: {
        messageType: 'ComplianceChangeNotification',
        newEvaluationResult: { complianceType: 'NON_COMPLIANT' },
      },
    };
    expect(matchesPattern(pattern, event)).toBe(true);
    const compliant = {
      ...event,
      detail: { ...event.detail, newEvaluationResult: { complianceType: 'COMPLIANT' } },
    };
    expect(matchesPattern(pattern, compliant)).toBe(false);
  });
});

describe('EventBridge pattern validation', () => {
  const invalid: [string, string][] = [
    ['not JSON', '{"source": '],
    ['not an object', '["aws.ec2"]'],
    ['leaf is a scalar, not a list', '{"source": "aws.ec2"}'],
    ['empty list', '{"source": []}'],
    ['unknown operator', '{"source": [{"regex": "a.*"}]}'],
    ['two keys in a matcher', '{"source": [{"prefix": "a", "suffix": "b"}]}'],
    ['numeric with a bad operator', '{"n": [{"numeric": ["!=", 1]}]}'],
    ['numeric with an odd list', '{"n": [{"numeric": [">", 1, "<"]}]}'],
    ['exists not boolean', '{"n": [{"exists": "yes"}]}'],
    ['malformed cidr', '{"ip": [{"cidr": "10.0.0.0/33"}]}'],
    ['anything-but mixed list', '{"s": [{"anything-but": ["a", 1]}]}'],
    ['$or with one branch', '{"$or": [{"a": ["b"]}]}'],
    ['consecutive wildcards', '{"s": [{"wildcard": "a**b"}]}'],
  ];
  it.each(invalid)('rejects %s', (_name, pattern) => {
    expect(() => parsePattern(pattern)).toThrow(InvalidPatternError);
  });
});
