/**
 * After `cdk deploy --outputs-file cdk-outputs.json`: writes what the `real` command needs
 * to reach the cluster, from the stack outputs and SSM:
 *   nodes.txt         one node address per line (Jepsen's --nodes-file), n1 first
 *   private-key.pem   the key pair's private key (mode 600), read with the AWS CLI
 * then waits until every node has finished its first-boot script (`cloud-init status
 * --wait` over SSH), so that podman, node and iptables are there when `real` starts.
 *
 * The addresses are the nodes' public DNS names: outside the VPC they resolve to the
 * public IPs, inside it to the private ones, so the nodes talk to each other over their
 * private addresses (which the security group's node-to-node rule admits).
 *
 * Usage: tsx scripts/write-nodes.ts [--outputs FILE] [--stack NAME] [--out-dir DIR]
 *                                   [--no-wait] [--wait-timeout SECONDS]
 */

import { execFileSync, spawnSync } from "node:child_process";
import * as fs from "node:fs";
import * as path from "node:path";

interface Args {
  outputs: string;
  stack?: string;
  outDir: string;
  wait: boolean;
  waitTimeoutSeconds: number;
}

function parseArgs(argv: string[]): Args {
  const here = path.resolve(__dirname, "..");
  const args: Args = { outputs: path.join(here, "cdk-outputs.json"), outDir: here, wait: true, waitTimeoutSeconds: 900 };
  for (let i = 0; i < argv.length; i++) {
    const flag = argv[i];
    const value = () => {
      const v = argv[++i];
      if (v === undefined) fail(`${flag} needs a value`);
      return v;
    };
    if (flag === "--outputs") args.outputs = value();
    else if (flag === "--stack") args.stack = value();
    else if (flag === "--out-dir") args.outDir = value();
    else if (flag === "--no-wait") args.wait = false;
    else if (flag === "--wait-timeout") args.waitTimeoutSeconds = Number(value());
    else fail(`unknown argument '${flag}'`);
  }
  return args;
}

function fail(message: string): never {
  console.error(`write-nodes: ${message}`);
  process.exit(1);
}

/** The outputs of the one stack in the outputs file (or of `--stack`). */
function stackOutputs(file: string, stack?: string): Record<string, string> {
  let all: Record<string, Record<string, string>>;
  try {
    all = JSON.parse(fs.readFileSync(file, "utf8"));
  } catch (e) {
    fail(`cannot read the stack outputs ${file} (run \`cdk deploy --outputs-file cdk-outputs.json\` first): ${(e as Error).message}`);
  }
  const names = Object.keys(all);
  const name = stack ?? (names.length === 1 ? names[0] : undefined);
  if (name === undefined) fail(`${file} has ${names.length} stacks (${names.join(", ")}): choose one with --stack`);
  const outputs = all[name];
  if (outputs === undefined) fail(`${file} has no stack '${name}' (it has: ${names.join(", ")})`);
  return outputs;
}

function required(outputs: Record<string, string>, key: string): string {
  const value = outputs[key];
  if (typeof value !== "string" || value === "") fail(`the stack outputs have no ${key}`);
  return value;
}

function nodeAddresses(outputs: Record<string, string>): string[] {
  const count = Number(required(outputs, "NodeCount"));
  if (!Number.isInteger(count) || count < 1) fail(`NodeCount '${outputs.NodeCount}' is not a node count`);
  const addresses: string[] = [];
  for (let n = 1; n <= count; n++) addresses.push(required(outputs, `Node${n}PublicDnsName`));
  return addresses;
}

function readPrivateKey(region: string, parameterName: string): string {
  let key: string;
  try {
    key = execFileSync(
      "aws",
      ["ssm", "get-parameter", "--region", region, "--name", parameterName, "--with-decryption",
        "--query", "Parameter.Value", "--output", "text"],
      { encoding: "utf8", stdio: ["ignore", "pipe", "inherit"] },
    );
  } catch (e) {
    fail(`reading the private key from SSM (${parameterName} in ${region}) with the AWS CLI failed: ${(e as Error).message}`);
  }
  key = key.trim();
  if (!/^-----BEGIN [A-Z ]*PRIVATE KEY-----/.test(key)) fail(`SSM parameter ${parameterName} does not hold a private key`);
  return key + "\n";
}

/** Writes a file readable by its owner only (ssh refuses a key others can read). */
function writePrivate(file: string, text: string): void {
  fs.rmSync(file, { force: true });
  fs.writeFileSync(file, text, { mode: 0o600 });
  fs.chmodSync(file, 0o600);
}

function sleep(ms: number): void {
  Atomics.wait(new Int32Array(new SharedArrayBuffer(4)), 0, 0, ms);
}

/** Waits until cloud-init has finished on the node; SSH failures (still booting) are retried. */
function waitForNode(address: string, user: string, keyFile: string, deadline: number): void {
  const sshArgs = ["-i", keyFile, "-o", "BatchMode=yes", "-o", "StrictHostKeyChecking=no",
    "-o", "UserKnownHostsFile=/dev/null", "-o", "LogLevel=ERROR", "-o", "ConnectTimeout=10", `${user}@${address}`];
  for (;;) {
    const run = spawnSync("ssh", [...sshArgs, "cloud-init status --wait"], { encoding: "utf8" });
    if (run.error) fail(`cannot run ssh: ${run.error.message}`);
    if (run.status === 0 || run.status === 2) return; // 2: done, with recoverable errors
    if (run.status !== 255) {
      const detail = spawnSync("ssh", [...sshArgs, "cloud-init status --long"], { encoding: "utf8" });
      fail(`the first-boot script failed on ${address} (see /var/log/cloud-init-output.log there):\n${detail.stdout}`);
    }
    if (Date.now() > deadline) fail(`${address} did not answer over SSH in time: ${run.stderr.trim()}`);
    sleep(5000);
  }
}

function main(): void {
  const args = parseArgs(process.argv.slice(2));
  const outputs = stackOutputs(args.outputs, args.stack);
  const addresses = nodeAddresses(outputs);
  const region = required(outputs, "Region");
  const user = required(outputs, "SshUser");
  const key = readPrivateKey(region, required(outputs, "PrivateKeyParameterName"));

  fs.mkdirSync(args.outDir, { recursive: true });
  const nodesFile = path.join(args.outDir, "nodes.txt");
  const keyFile = path.join(args.outDir, "private-key.pem");
  fs.writeFileSync(nodesFile, addresses.map((a) => a + "\n").join(""));
  writePrivate(keyFile, key);
  console.log(`wrote ${nodesFile} (${addresses.length} nodes) and ${keyFile}`);

  if (args.wait) {
    const deadline = Date.now() + args.waitTimeoutSeconds * 1000;
    for (const address of addresses) {
      console.log(`waiting for the first-boot script on ${address} ...`);
      waitForNode(address, user, keyFile, deadline);
    }
    console.log("all nodes are ready");
  }
}

main();
