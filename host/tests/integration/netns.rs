//! Network namespaces a test makes for itself (as root, with `ip` from iproute2): hosts
//! joined by veth pairs on private /30 networks, links taken down and up to cut and heal
//! a partition. Everything is removed when the value is dropped, even after a failure.

use std::net::Ipv4Addr;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

/// Runs `ip args…`; a failure panics with what `ip` said.
pub fn ip(args: &[&str]) {
    let output =
        Command::new("ip").args(args).output().unwrap_or_else(|e| panic!("cannot run ip ({e}): install iproute2"));
    assert!(
        output.status.success(),
        "ip {}: {} (network namespace tests need root)",
        args.join(" "),
        String::from_utf8_lossy(&output.stderr).trim()
    );
}

/// One end of a link: its host (`None`: the test's own namespace), interface and address.
#[derive(Clone)]
pub struct End {
    pub host: Option<String>,
    pub interface: String,
    pub address: Ipv4Addr,
}

impl End {
    /// `ip` arguments that act in this end's namespace.
    fn ip(&self, args: &[&str]) {
        match &self.host {
            Some(ns) => ip(&[&["-n", ns.as_str()], args].concat()),
            None => ip(args),
        }
    }
}

/// The namespaces and links of one test.
pub struct Network {
    tag: String,
    /// The second octet of every address: 10.<octet>.<link>.<1|2>.
    octet: u8,
    hosts: Vec<String>,
    links: usize,
    root_interfaces: Vec<String>,
}

impl Network {
    /// A network named after this process, so concurrent runs do not meet.
    pub fn new() -> Network {
        let pid = std::process::id();
        Network {
            tag: format!("b{}", pid % 100_000),
            octet: 100 + (pid % 100) as u8,
            hosts: Vec::new(),
            links: 0,
            root_interfaces: Vec::new(),
        }
    }

    /// A new namespace with its loopback up; its name.
    pub fn host(&mut self, name: &str) -> String {
        let ns = format!("berth-{}-{name}", self.tag);
        let _ = Command::new("ip").args(["netns", "del", &ns]).stderr(Stdio::null()).status();
        ip(&["netns", "add", &ns]);
        self.hosts.push(ns.clone());
        ip(&["-n", &ns, "link", "set", "lo", "up"]);
        ns
    }

    /// Joins `a` and `b` (namespaces; `None` is the test's own) by a veth pair on the next /30.
    pub fn link(&mut self, a: Option<&str>, b: Option<&str>) -> (End, End) {
        self.links += 1;
        let end = |host: Option<&str>, side: u8| End {
            host: host.map(str::to_owned),
            interface: format!("{}l{}{}", self.tag, self.links, if side == 1 { 'a' } else { 'b' }),
            address: Ipv4Addr::new(10, self.octet, self.links as u8, side),
        };
        let (a, b) = (end(a, 1), end(b, 2));
        ip(&["link", "add", &a.interface, "type", "veth", "peer", "name", &b.interface]);
        for end in [&a, &b] {
            match &end.host {
                Some(ns) => ip(&["link", "set", &end.interface, "netns", ns]),
                None => self.root_interfaces.push(end.interface.clone()),
            }
            end.ip(&["addr", "add", &format!("{}/30", end.address), "dev", &end.interface]);
            end.ip(&["link", "set", &end.interface, "up"]);
        }
        (a, b)
    }

    /// Takes `end`'s interface down (packets to and from it vanish) or up again.
    pub fn set_link(&self, end: &End, up: bool) {
        end.ip(&["link", "set", &end.interface, if up { "up" } else { "down" }]);
    }
}

impl Drop for Network {
    fn drop(&mut self) {
        for ns in &self.hosts {
            let _ = Command::new("ip").args(["netns", "del", ns]).stderr(Stdio::null()).status();
        }
        for interface in &self.root_interfaces {
            let _ = Command::new("ip").args(["link", "del", interface]).stderr(Stdio::null()).status();
        }
    }
}

/// A process run inside a namespace (`ip netns exec`), killed when dropped.
pub struct Inside {
    child: Child,
}

impl Inside {
    /// Runs `program args…` in namespace `ns` and waits (15 s at most) until `listening` accepts.
    pub fn start(ns: &str, program: &str, args: &[&str], listening: (Ipv4Addr, u16)) -> Inside {
        let child = Command::new("ip")
            .args(["netns", "exec", ns, program])
            .args(args)
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .unwrap_or_else(|e| panic!("cannot start {program} in {ns}: {e}"));
        let deadline = Instant::now() + Duration::from_secs(15);
        while std::net::TcpStream::connect_timeout(&listening.into(), Duration::from_millis(200)).is_err() {
            assert!(Instant::now() < deadline, "{program} in {ns} did not listen on {listening:?}");
            std::thread::sleep(Duration::from_millis(50));
        }
        Inside { child }
    }
}

impl Drop for Inside {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}
