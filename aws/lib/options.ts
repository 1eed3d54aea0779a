/**
 * The cluster's options, read from CDK context (`-c nodes=5 -c allow-source-cidr=…`) and
 * checked here, so that a wrong value stops `cdk synth` with one clear message instead of
 * failing later in CloudFormation.
 */

export interface ClusterOptions {
  /** CloudFormation stack name (context `stack-name`). */
  stackName: string;
  /** How many nodes n1..nN (context `nodes`, default 3). */
  nodes: number;
  /** CIDRs that may reach the nodes on every port (context `allow-source-cidr`, comma-separated; default none). */
  allowSourceCidrs: string[];
}

export const DEFAULT_STACK_NAME = "restate-jepsen-cluster";
export const DEFAULT_NODES = 3;
export const MAX_NODES = 20;

/** Reads the options from a context getter such as `app.node.tryGetContext`. */
export function readOptions(context: (key: string) => unknown): ClusterOptions {
  return {
    stackName: readStackName(context("stack-name")),
    nodes: readNodes(context("nodes")),
    allowSourceCidrs: readCidrs(context("allow-source-cidr")),
  };
}

function readStackName(value: unknown): string {
  if (value === undefined || value === null || value === "") return DEFAULT_STACK_NAME;
  const name = String(value);
  // CloudFormation: letters, digits and hyphens, starting with a letter, at most 128.
  if (!/^[A-Za-z][A-Za-z0-9-]{0,127}$/.test(name)) {
    throw new Error(`stack-name '${name}': use letters, digits and hyphens, starting with a letter`);
  }
  return name;
}

function readNodes(value: unknown): number {
  if (value === undefined || value === null || value === "") return DEFAULT_NODES;
  const text = String(value);
  const nodes = /^[0-9]+$/.test(text) ? Number(text) : NaN;
  if (!(nodes >= 1 && nodes <= MAX_NODES)) {
    throw new Error(`nodes '${text}': give a whole number from 1 to ${MAX_NODES}`);
  }
  return nodes;
}

function readCidrs(value: unknown): string[] {
  if (value === undefined || value === null || value === "") return [];
  const cidrs = String(value)
    .split(",")
    .map((c) => c.trim())
    .filter((c) => c !== "");
  for (const cidr of cidrs) {
    if (!isIpv4Cidr(cidr) && !isIpv6Cidr(cidr)) {
      throw new Error(`allow-source-cidr '${cidr}': give a CIDR such as 203.0.113.7/32`);
    }
  }
  return cidrs;
}

export function isIpv4Cidr(cidr: string): boolean {
  const match = /^(\d{1,3})\.(\d{1,3})\.(\d{1,3})\.(\d{1,3})\/(\d{1,2})$/.exec(cidr);
  if (!match) return false;
  const octets = match.slice(1, 5).map(Number);
  return octets.every((o) => o <= 255) && Number(match[5]) <= 32;
}

export function isIpv6Cidr(cidr: string): boolean {
  const match = /^([0-9A-Fa-f:]+)\/(\d{1,3})$/.exec(cidr);
  return match !== null && match[1].includes(":") && Number(match[2]) <= 128;
}
