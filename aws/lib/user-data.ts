/**
 * First-boot script of a node: its hostname, then the Debian packages the `real` command
 * uses on a node (podman and podman-docker for `--image`, nodejs for the SDK services,
 * iptables for partitions, jq). `cloud-init status --wait` on the node ends when it has run
 * (scripts/write-nodes.sh waits for that).
 */

import { aws_ec2 as ec2 } from "aws-cdk-lib";

export const NODE_PACKAGES = ["podman", "podman-docker", "nodejs", "iptables", "jq"];

export function nodeUserData(hostname: string): ec2.UserData {
  const userData = ec2.UserData.forLinux();
  userData.addCommands(
    "set -euxo pipefail",
    `hostnamectl set-hostname ${hostname}`,
    "export DEBIAN_FRONTEND=noninteractive",
    // unattended-upgrades may hold the dpkg lock on first boot: wait for it.
    "apt-get -o DPkg::Lock::Timeout=600 update -q",
    `apt-get -o DPkg::Lock::Timeout=600 install -y -q --no-install-recommends ${NODE_PACKAGES.join(" ")}`,
    // podman-docker prints a notice on every `docker` call unless this file exists.
    "mkdir -p /etc/containers && touch /etc/containers/nodocker",
  );
  return userData;
}
