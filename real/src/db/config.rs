//! The restate-server configuration of one node of the test cluster, as restatedev/jepsen
//! writes it: every node runs every role, the metadata store is replicated (Raft) over all
//! nodes, the log is replicated, and each node advertises the address the control machine
//! knows it by, so that the fabric, the ingress and the admin API all use that address.

/// What the whole cluster shares.
#[derive(Clone, Debug, PartialEq)]
pub struct ClusterConfig {
    /// Unique per run (a data folder of another run never joins this cluster).
    pub cluster_name: String,
    /// The nodes' addresses (host names or IPs), in order: node i+1 is `n{i+1}`.
    pub addresses: Vec<String>,
    /// `--num-partitions`.
    pub partitions: u32,
    /// Log servers a record must reach (`default-replication`).
    pub replication: u32,
}

impl ClusterConfig {
    /// A cluster over `addresses`, with replication to a majority of the nodes.
    pub fn new(cluster_name: &str, addresses: Vec<String>, partitions: u32) -> ClusterConfig {
        let replication = (addresses.len() / 2 + 1) as u32;
        ClusterConfig {
            cluster_name: cluster_name.to_string(),
            addresses,
            partitions,
            replication,
        }
    }

    /// Restate's name of the node at `index` (0-based): `n1`, `n2`, …
    pub fn node_name(index: usize) -> String {
        format!("n{}", index + 1)
    }

    /// The config file of the node at `index`, whose data goes to `base_dir` (a path on
    /// the node; `/restate-data` inside a container).
    pub fn node_config(&self, index: usize, base_dir: &str) -> String {
        let address = &self.addresses[index];
        let metadata_addresses: Vec<String> = self
            .addresses
            .iter()
            .map(|a| format!("\"http://{a}:5122\""))
            .collect();
        format!(
            r#"cluster-name = "{cluster}"
node-name = "{name}"
force-node-id = {id}
advertised-address = "http://{address}:5122"
auto-provision = {provision}
base-dir = "{base_dir}"
roles = ["admin", "metadata-server", "worker", "log-server", "http-ingress"]
default-replication = {replication}
default-num-partitions = {partitions}
gossip-suspect-interval = "1s"
log-disable-ansi-codes = true

[metadata-server]
type = "replicated"

[metadata-client]
type = "replicated"
addresses = [{metadata_addresses}]

[bifrost]
default-provider = "replicated"

[ingress]
advertised-ingress-endpoint = "http://{address}:8080/"

[admin]
advertised-admin-endpoint = "http://{address}:9070/"
"#,
            cluster = self.cluster_name,
            name = ClusterConfig::node_name(index),
            id = index + 1,
            provision = index == 0,
            replication = self.replication,
            partitions = self.partitions,
            metadata_addresses = metadata_addresses.join(", "),
        )
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn three() -> ClusterConfig {
        ClusterConfig::new(
            "jepsen-1",
            vec!["10.0.0.1".into(), "10.0.0.2".into(), "10.0.0.3".into()],
            4,
        )
    }

    #[test]
    fn replication_is_a_majority_of_the_nodes() {
        assert_eq!(three().replication, 2);
        assert_eq!(ClusterConfig::new("c", vec!["a".into()], 1).replication, 1);
        let five = (1..=5).map(|i| format!("h{i}")).collect();
        assert_eq!(ClusterConfig::new("c", five, 1).replication, 3);
    }

    #[test]
    fn each_node_names_itself_and_knows_all_metadata_servers() {
        let config = three();
        let second = config.node_config(1, "/data");
        assert!(second.contains("node-name = \"n2\""));
        assert!(second.contains("force-node-id = 2"));
        assert!(second.contains("advertised-address = \"http://10.0.0.2:5122\""));
        assert!(second.contains("auto-provision = false"));
        assert!(second.contains(
            "addresses = [\"http://10.0.0.1:5122\", \"http://10.0.0.2:5122\", \"http://10.0.0.3:5122\"]"
        ));
        assert!(second.contains("default-num-partitions = 4"));
        assert!(config
            .node_config(0, "/data")
            .contains("auto-provision = true"));
        let parsed: toml::Value = toml::from_str(&second).expect("the config is TOML");
        assert_eq!(parsed["base-dir"].as_str(), Some("/data"));
    }
}
