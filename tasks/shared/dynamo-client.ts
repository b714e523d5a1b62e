/**
 * The DynamoDB document client, created once per process (see clients.ts). Its own module because
 * @aws-sdk/lib-dynamodb is not marked free of side effects: esbuild keeps whatever imports it, so only
 * handlers that use DynamoDB import this file.
 */
import { DynamoDBClient } from '@aws-sdk/client-dynamodb';
import { DynamoDBDocumentClient } from '@aws-sdk/lib-dynamodb';
import { cached } from './clients';

/** Undefined attributes are dropped, as every core expects. */
export function dynamoClient(): DynamoDBDocumentClient {
  return cached('dynamo', (c) =>
    DynamoDBDocumentClient.from(new DynamoDBClient(c), {
      marshallOptions: { removeUndefinedValues: true },
    }),
  );
}
