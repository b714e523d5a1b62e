/**
 * Every emulated service and resource provider, for startSandbox({ services: allServices(), providers:
 * allProviders() }). Each call creates fresh module instances (per-sandbox state).
 */
import type { ResourceProvider, ServiceModule } from '../core/types';
import { cloudControlService } from './cloudcontrol';
import { cloudFormationService } from './cloudformation';
import { configService } from './config';
import { dynamoDbService } from './dynamodb';
import { ec2Service } from './ec2';
import { eventsService } from './events';
import { iamService } from './iam';
import { kmsService } from './kms';
import { lambdaService } from './lambda';
import { resourceProviders } from './providers';
import { s3Service } from './s3';
import { schedulerService } from './scheduler';
import { secretsManagerService } from './secretsmanager';
import { snsService } from './sns';
import { sqsService } from './sqs';
import { ssmService } from './ssm';
import { stepFunctionsService } from './stepfunctions';
import { stsService } from './sts';

export interface AllServicesOptions {
  ssm?: Parameters<typeof ssmService>[0];
  /** `{ runSchedules: true }` runs rate() schedule rules on the sandbox clock (default: stored, fired on demand). */
  events?: Parameters<typeof eventsService>[0];
  config?: Parameters<typeof configService>[0];
  /** EventBridge Scheduler: schedules fire on the sandbox clock unless `{ runSchedules: false }`. */
  scheduler?: Parameters<typeof schedulerService>[0];
}

export function allServices(options: AllServicesOptions = {}): ServiceModule[] {
  return [
    // infrastructure
    kmsService(),
    dynamoDbService(),
    sqsService(),
    snsService(),
    eventsService(options.events),
    schedulerService(options.scheduler),
    secretsManagerService(),
    stepFunctionsService(),
    // resources and remediation
    ec2Service(),
    s3Service(),
    iamService(),
    stsService(),
    lambdaService(),
    ssmService(options.ssm),
    cloudFormationService(),
    cloudControlService(),
    configService(options.config),
  ];
}

export function allProviders(): ResourceProvider[] {
  return resourceProviders();
}
