/**
 * The EC2 cluster restate-jepsen's `real` command runs against: N Debian bookworm x86-64
 * nodes (t3.small, 16 GiB disk) in a small VPC of their own, one security group open
 * between the nodes and to the operator's CIDR only, and an SSH key pair whose private key
 * CloudFormation keeps in SSM Parameter Store. Each node installs what `real` needs
 * (podman with its docker shim, node, iptables, jq) on first boot.
 *
 * The stack needs no look-up at synth time (the AMI is an SSM parameter resolved by
 * CloudFormation at deploy time; the VPC is created, not looked up), so `cdk synth` works
 * offline without AWS credentials.
 */

import * as cdk from "aws-cdk-lib";
import { aws_ec2 as ec2, aws_iam as iam } from "aws-cdk-lib";
import { Construct } from "constructs";
import { ClusterOptions } from "./options";
import { nodeUserData } from "./user-data";

/** Debian's public SSM parameter with the latest bookworm amd64 AMI of the region. */
export const DEBIAN_BOOKWORM_AMI_PARAMETER = "/aws/service/debian/release/bookworm/latest/amd64";
/** The login user of Debian's cloud images (passwordless sudo). */
export const SSH_USER = "admin";
export const ROOT_VOLUME_GIB = 16;

export class ClusterStack extends cdk.Stack {
  constructor(scope: Construct, id: string, options: ClusterOptions, props?: cdk.StackProps) {
    super(scope, id, props);

    // A VPC of its own rather than the account's default VPC: looking the default VPC up
    // needs credentials at synth time (no offline synth), and not every account has one.
    // One public subnet, no NAT gateway: it costs nothing. DNS hostnames on, so that a
    // node's public DNS name resolves to its private address inside the VPC.
    const vpc = new ec2.Vpc(this, "Vpc", {
      ipAddresses: ec2.IpAddresses.cidr("10.42.0.0/16"),
      maxAzs: 1,
      natGateways: 0,
      subnetConfiguration: [{ name: "Public", subnetType: ec2.SubnetType.PUBLIC, cidrMask: 24 }],
      enableDnsHostnames: true,
      enableDnsSupport: true,
      // Restricting the (unused) default security group needs a Lambda custom resource,
      // that is an asset and a bootstrapped account; nothing here uses that group.
      restrictDefaultSecurityGroup: false,
    });

    const securityGroup = new ec2.SecurityGroup(this, "NodesSecurityGroup", {
      vpc,
      description: "restate-jepsen nodes: open between the nodes and to the operator CIDR",
      allowAllOutbound: true, // apt, container images
    });
    securityGroup.addIngressRule(securityGroup, ec2.Port.allTraffic(), "between the nodes");
    for (const cidr of options.allowSourceCidrs) {
      const peer = cidr.includes(":") ? ec2.Peer.ipv6(cidr) : ec2.Peer.ipv4(cidr);
      securityGroup.addIngressRule(peer, ec2.Port.allTraffic(), "the operator (allow-source-cidr)");
    }
    if (options.allowSourceCidrs.length === 0) {
      cdk.Annotations.of(this).addWarningV2(
        "restate-jepsen:no-source-cidr",
        "no allow-source-cidr given: the nodes are reachable only from each other (pass -c allow-source-cidr=YOUR.IP/32)",
      );
    }

    // ED25519: the `real` command's SSH client (russh without its RSA feature) reads
    // OpenSSH-format ED25519 keys. CloudFormation stores the private key in SSM at
    // /ec2/keypair/<key pair id>.
    const keyPair = new ec2.KeyPair(this, "KeyPair", {
      type: ec2.KeyPairType.ED25519,
      format: ec2.KeyPairFormat.PEM,
    });

    const machineImage = ec2.MachineImage.fromSsmParameter(DEBIAN_BOOKWORM_AMI_PARAMETER, {
      os: ec2.OperatingSystemType.LINUX,
    });
    const instanceType = ec2.InstanceType.of(ec2.InstanceClass.T3, ec2.InstanceSize.SMALL);
    // One role and instance profile for all nodes (ec2.Instance would make one per node).
    // The role has no policy: the nodes call no AWS API.
    const role = new iam.Role(this, "NodeRole", {
      assumedBy: new iam.ServicePrincipal("ec2.amazonaws.com"),
      description: "restate-jepsen nodes (no permissions)",
    });
    const instanceProfile = new iam.InstanceProfile(this, "NodeInstanceProfile", { role });

    for (let n = 1; n <= options.nodes; n++) {
      const node = new ec2.Instance(this, `N${n}`, {
        vpc,
        vpcSubnets: { subnetType: ec2.SubnetType.PUBLIC },
        associatePublicIpAddress: true,
        instanceType,
        machineImage,
        keyPair,
        securityGroup,
        instanceProfile,
        requireImdsv2: true,
        blockDevices: [
          {
            deviceName: "/dev/xvda", // the root device of Debian's AMIs
            volume: ec2.BlockDeviceVolume.ebs(ROOT_VOLUME_GIB, {
              volumeType: ec2.EbsDeviceVolumeType.GP3,
              encrypted: true,
              deleteOnTermination: true,
            }),
          },
        ],
        userData: nodeUserData(`n${n}`),
        userDataCausesReplacement: true,
      });
      cdk.Tags.of(node).add("Name", `${id}-n${n}`);

      new cdk.CfnOutput(this, `Node${n}PublicDnsName`, { value: node.instancePublicDnsName });
      new cdk.CfnOutput(this, `Node${n}PublicIp`, { value: node.instancePublicIp });
      new cdk.CfnOutput(this, `Node${n}PrivateIp`, { value: node.instancePrivateIp });
      new cdk.CfnOutput(this, `Node${n}InstanceId`, { value: node.instanceId });
    }

    new cdk.CfnOutput(this, "NodeCount", { value: String(options.nodes) });
    new cdk.CfnOutput(this, "SshUser", { value: SSH_USER });
    new cdk.CfnOutput(this, "KeyPairName", { value: keyPair.keyPairName });
    new cdk.CfnOutput(this, "PrivateKeyParameterName", { value: keyPair.privateKey.parameterName });
    new cdk.CfnOutput(this, "Region", { value: this.region });

    cdk.Tags.of(this).add("purpose", "jepsen-tests");
    cdk.Tags.of(this).add("stack", id);
  }
}
