import { createHash } from 'node:crypto';

export interface MessageAttributeValue {
  DataType: string;
  StringValue?: string;
  BinaryValue?: Uint8Array | string;
  StringListValues?: string[];
  BinaryListValues?: (Uint8Array | string)[];
}

export const md5Hex = (data: string | Uint8Array): string => createHash('md5').update(data).digest('hex');

function lengthPrefixed(buf: Buffer): Buffer {
  const len = Buffer.alloc(4);
  len.writeUInt32BE(buf.length);
  return Buffer.concat([len, buf]);
}

const toBuffer = (v: Uint8Array | string): Buffer =>
  typeof v === 'string' ? Buffer.from(v, 'base64') : Buffer.from(v);

/** MD5OfMessageAttributes as SQS computes it (names sorted; length-prefixed name, type, transport byte, value). */
export function md5OfMessageAttributes(attrs: Record<string, MessageAttributeValue>): string | undefined {
  const names = Object.keys(attrs).sort();
  if (names.length === 0) return undefined;
  const parts: Buffer[] = [];
  for (const name of names) {
    const a = attrs[name] as MessageAttributeValue;
    parts.push(lengthPrefixed(Buffer.from(name, 'utf8')), lengthPrefixed(Buffer.from(a.DataType, 'utf8')));
    if (a.StringValue !== undefined) {
      parts.push(Buffer.from([1]), lengthPrefixed(Buffer.from(a.StringValue, 'utf8')));
    } else if (a.BinaryValue !== undefined) {
      parts.push(Buffer.from([2]), lengthPrefixed(toBuffer(a.BinaryValue)));
    }
  }
  return md5Hex(Buffer.concat(parts));
}
