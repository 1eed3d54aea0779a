/**
 * The CDK app: reads the context options and builds the one cluster stack. The stack is
 * environment-agnostic (deployed into the CLI's account and region) and uses the legacy
 * synthesizer: it has no assets, so it deploys with the CLI's credentials and needs no
 * `cdk bootstrap`.
 */

import * as cdk from "aws-cdk-lib";
import { ClusterStack } from "../lib/cluster-stack";
import { readOptions } from "../lib/options";

const app = new cdk.App();
const options = readOptions((key) => app.node.tryGetContext(key));
new ClusterStack(app, options.stackName, options, {
  stackName: options.stackName,
  description: `restate-jepsen: ${options.nodes} Debian nodes for the real-cluster tests`,
  synthesizer: new cdk.LegacyStackSynthesizer(),
});
app.synth();
