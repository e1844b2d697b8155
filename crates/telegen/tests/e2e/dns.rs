//! Live DNS tracing end to end: a real dnsmasq serving records this test defines, in a
//! network namespace the test creates, queried from a second namespace by dig (UDP, TCP,
//! IPv4 and IPv6 servers), getent (the libc resolver via the namespace's resolv.conf) and
//! a python3 stdlib client with two queries in flight on one socket; a server that never
//! answers gives TIMEOUT. The `telegen` binary must report every query exactly once, with
//! the right name, type, answers, response code, server and process; and the documented
//! PromQL queries must work against a real Prometheus.
//!
//! Needs root; fails loudly without it.

use crate::common::agent::Agent;
use crate::common::netns::{NetnsPair, Side};
use crate::common::prom::Prometheus;
use crate::common::py::{py_script, python};
use crate::common::root::root_test;
use serde_json::Value;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

struct Dnsmasq(Child);
impl Drop for Dnsmasq {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

/// The resolv.conf that `ip netns exec` bind-mounts for one namespace; removed on drop.
struct NetnsResolvConf(std::path::PathBuf);
impl Drop for NetnsResolvConf {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.0);
    }
}

fn dig(ns: &NetnsPair, args: &[&str]) -> String {
    let out = Command::new("ip")
        .args(["netns", "exec", ns.name(Side::A), "dig", "+tries=1", "+time=2"])
        .args(args)
        .output()
        .expect("dig (apt-get install dnsutils)");
    String::from_utf8_lossy(&out.stdout).to_string()
}

fn queries<'a>(recs: &'a [Value], name: &str) -> Vec<&'a Value> {
    recs.iter()
        .filter(|r| r["name"] == "dns.query" && r["attributes"]["dns.question.name"] == name)
        .collect()
}

const PY_TWO_IN_FLIGHT: &str = r#"
import socket, struct, sys
def q(i, name):
    h = struct.pack('>HHHHHH', i, 0x0100, 1, 0, 0, 0)
    b = b''.join(bytes([len(p)]) + p.encode() for p in name.split('.')) + b'\0'
    return h + b + struct.pack('>HH', 1, 1)
s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
s.settimeout(3)
s.connect((sys.argv[1], 53))
s.send(q(0x1111, 'a.test.example'))
s.send(q(0x2222, 'www.test.example'))
got = sorted(struct.unpack('>H', s.recv(512)[:2])[0] for _ in range(2))
assert got == [0x1111, 0x2222], got
"#;

#[test]
fn dnsmasq_queries_from_dig_getent_python_and_timeouts() {
    let _root = root_test(module_path!());
    let ns = NetnsPair::new("dns");
    let server4 = ns.ip4(Side::B).to_string();
    let server6 = ns.ip6(Side::B).to_string();
    let dnsmasq = Command::new("ip")
        .args([
            "netns",
            "exec",
            ns.name(Side::B),
            "dnsmasq",
            "--no-daemon",
            "--conf-file=/dev/null",
            "--no-resolv",
            "--no-hosts",
        ])
        .args([
            "--bind-interfaces",
            &format!("--listen-address={server4},{server6}"),
            "--port=53",
            "--user=root",
        ])
        .args([
            "--local=/test.example/",
            "--address=/a.test.example/10.1.2.3",
            "--host-record=v6.test.example,fd00::1234",
        ])
        .args([
            "--host-record=www.test.example,10.9.9.9",
            "--cname=alias.test.example,www.test.example",
        ])
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .expect("dnsmasq (apt-get install dnsmasq-base)");
    let _dnsmasq = Dnsmasq(dnsmasq);
    // A DNS server that never answers, on the other default DNS port.
    let hole = ns.ip4(Side::B);
    let _blackhole = ns.spawn_in(Side::B, move || {
        let s = std::net::UdpSocket::bind((hole, 5353)).unwrap();
        s.set_read_timeout(Some(Duration::from_secs(20))).unwrap();
        let mut b = [0u8; 512];
        let t0 = Instant::now();
        while t0.elapsed() < Duration::from_secs(20) && s.recv(&mut b).is_ok() {}
    });
    let etc = std::path::PathBuf::from(format!("/etc/netns/{}", ns.name(Side::A)));
    std::fs::create_dir_all(&etc).unwrap();
    std::fs::write(
        etc.join("resolv.conf"),
        format!("nameserver {server4}\noptions attempts:1 timeout:2\n"),
    )
    .unwrap();
    let _resolv = NetnsResolvConf(etc);

    let agent = Agent::start("  network:\n    dns:\n      timeout: 1s\n");
    let prom = Prometheus::start(agent.metrics, "/metrics");
    prom.wait_for("up", Duration::from_secs(30), |v| v == 1.0);
    // Wait for dnsmasq to answer before the scripted queries.
    let t0 = Instant::now();
    while !dig(&ns, &[&format!("@{server4}"), "+short", "ready.a.test.example"])
        .contains("10.1.2.3")
    {
        assert!(t0.elapsed() < Duration::from_secs(10), "dnsmasq did not answer");
        std::thread::sleep(Duration::from_millis(200));
    }

    assert!(
        dig(&ns, &[&format!("@{server4}"), "+short", "a.test.example", "A"]).contains("10.1.2.3")
    );
    assert!(dig(&ns, &[&format!("@{server4}"), "+short", "v6.test.example", "AAAA"])
        .contains("fd00::1234"));
    assert!(
        dig(&ns, &[&format!("@{server4}"), "alias.test.example", "A"]).contains("www.test.example")
    );
    assert!(dig(&ns, &[&format!("@{server4}"), "nope.test.example", "A"]).contains("NXDOMAIN"));
    assert!(dig(&ns, &["+tcp", &format!("@{server4}"), "+short", "tcp.a.test.example", "A"])
        .contains("10.1.2.3"));
    assert!(dig(&ns, &[&format!("@{server6}"), "+short", "six.a.test.example", "A"])
        .contains("10.1.2.3"));
    let ge = Command::new("ip")
        .args(["netns", "exec", ns.name(Side::A), "getent", "ahostsv4", "www.test.example"])
        .output()
        .unwrap();
    assert!(String::from_utf8_lossy(&ge.stdout).contains("10.9.9.9"), "getent: {ge:?}");
    let py = Command::new("ip")
        .args(["netns", "exec", ns.name(Side::A), "python3", "-c", PY_TWO_IN_FLIGHT, &server4])
        .output()
        .unwrap();
    assert!(py.status.success(), "python client: {py:?}");
    dig(&ns, &[&format!("@{server4}"), "-p", "5353", "lost.test.example", "A"]);
    // dnspython (from the test venv) over UDP and TCP.
    let (venv_py, script) = (python(), py_script("dns_client.py"));
    let dp = Command::new("ip")
        .args(["netns", "exec", ns.name(Side::A), &venv_py, &script, &server4])
        .args(["dnspy-udp.a.test.example", "dnspy-tcp.a.test.example"])
        .output()
        .unwrap();
    assert!(dp.status.success(), "dnspython client: {dp:?}");

    let recs = agent.collect(Duration::from_secs(20), |r| {
        !queries(r, "lost.test.example").is_empty()
            && !queries(r, "www.test.example").is_empty()
            && !queries(r, "dnspy-tcp.a.test.example").is_empty()
    });
    let one = |name: &str, qtype: &str| -> Value {
        let v: Vec<_> = queries(&recs, name)
            .into_iter()
            .filter(|r| r["attributes"]["dns.question.type"] == qtype)
            .filter(|r| r["attributes"]["process.executable.name"] == "dig")
            .cloned()
            .collect();
        assert_eq!(
            v.len(),
            1,
            "{name} {qtype}: expected exactly one event from dig, got {v:#?} among {:#?}",
            queries(&recs, name)
        );
        v[0].clone()
    };
    let a = one("a.test.example", "A");
    let at = &a["attributes"];
    assert_eq!(at["dns.response_code"], "NOERROR");
    assert_eq!(at["dns.answers"], serde_json::json!(["10.1.2.3"]));
    assert_eq!(at["net.peer.ip"], server4.as_str());
    assert_eq!(at["net.peer.port"], 53);
    assert_eq!(at["process.executable.name"], "dig");
    assert!(at["process.pid"].as_i64().unwrap() > 0);
    assert_eq!(at["network.namespace"], ns.ino(Side::A) as i64);
    assert!(at["dns.latency_ms"].as_f64().unwrap() > 0.0);

    let v6 = one("v6.test.example", "AAAA");
    assert_eq!(v6["attributes"]["dns.answers"], serde_json::json!(["fd00::1234"]));
    let alias = one("alias.test.example", "A");
    let answers: Vec<String> =
        serde_json::from_value(alias["attributes"]["dns.answers"].clone()).unwrap();
    assert!(
        answers.iter().any(|x| x.trim_end_matches('.') == "www.test.example")
            && answers.contains(&"10.9.9.9".to_string()),
        "CNAME chain: {answers:?}"
    );
    assert_eq!(one("nope.test.example", "A")["attributes"]["dns.response_code"], "NXDOMAIN");
    let tcp = one("tcp.a.test.example", "A");
    assert_eq!(tcp["attributes"]["net.transport"], "ip_tcp");
    assert_eq!(tcp["attributes"]["dns.answers"], serde_json::json!(["10.1.2.3"]));
    assert_eq!(one("six.a.test.example", "A")["attributes"]["net.peer.ip"], server6.as_str());
    // getent asks A (ahostsv4) and python asks A for www: two processes, two events.
    let www: Vec<_> = queries(&recs, "www.test.example");
    let procs: Vec<&str> =
        www.iter().filter_map(|r| r["attributes"]["process.executable.name"].as_str()).collect();
    assert!(
        procs.contains(&"getent") && procs.iter().any(|p| p.starts_with("python3")),
        "www.test.example asked by {procs:?}"
    );
    let py_a: Vec<_> = queries(&recs, "a.test.example")
        .into_iter()
        .filter(|r| r["attributes"]["process.command"] == "python3")
        .collect();
    assert_eq!(py_a.len(), 1, "python's first in-flight query: {py_a:#?}");
    for (name, transport) in
        [("dnspy-udp.a.test.example", "ip_udp"), ("dnspy-tcp.a.test.example", "ip_tcp")]
    {
        let q = queries(&recs, name);
        let names: Vec<&Value> = recs
            .iter()
            .map(|r| &r["attributes"]["dns.question.name"])
            .filter(|v| !v.is_null())
            .collect();
        assert_eq!(q.len(), 1, "{name}: {q:#?} among {names:?}");
        let a = &q[0]["attributes"];
        assert_eq!(a["net.transport"], transport);
        assert_eq!(a["dns.answers"], serde_json::json!(["10.1.2.3"]));
        assert!(a["process.executable.name"].as_str().unwrap_or("").starts_with("python"), "{a}");
    }
    let lost = one("lost.test.example", "A");
    assert!(lost["attributes"].get("dns.latency_ms").is_none());
    assert_eq!(lost["attributes"]["dns.response_code"], "TIMEOUT");
    assert_eq!(lost["attributes"]["net.peer.port"], 5353);

    // The documented queries.
    dig(&ns, &[&format!("@{server4}"), "+short", "a.test.example", "A"]);
    dig(&ns, &[&format!("@{server4}"), "nope.test.example", "A"]);
    prom.wait_for(
        r#"sum(rate(telegen_dns_queries_total[5m])) by (domain)"#,
        Duration::from_secs(30),
        |v| v > 0.0,
    );
    prom.wait_for(
        r#"histogram_quantile(0.95, sum(rate(telegen_dns_latency_bucket[5m])) by (le))"#,
        Duration::from_secs(30),
        |v| v > 0.0,
    );
    prom.wait_for(
        r#"sum(rate(telegen_dns_queries_total{response_code!="NOERROR"}[5m]))"#,
        Duration::from_secs(30),
        |v| v > 0.0,
    );
    assert!(agent.stop().success());
}
