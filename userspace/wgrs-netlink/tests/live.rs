//! Exercises the real socket code against the generic netlink controller,
//! which every Linux kernel has (the `wireguard` family may be absent on a
//! build host). Netlink sockets exist on every Linux host these tests run
//! on: failing to open one is a failure, not a reason to skip.

use wgrs_netlink::attr::{attrs, get_str};
use wgrs_netlink::consts::{CTRL_ATTR_FAMILY_NAME, CTRL_CMD_GETFAMILY};
use wgrs_netlink::{Error, GenlSocket};

const NLM_F_DUMP: u16 = 0x300;

fn open(name: &str) -> Result<GenlSocket, Error> {
    GenlSocket::open(name, 1)
}

#[test]
fn resolves_controller_and_dumps_families() {
    let mut sock = open("nlctrl").expect("nlctrl always exists");
    let mut names = Vec::new();
    sock.request(CTRL_CMD_GETFAMILY, NLM_F_DUMP, Vec::new(), |_, a| {
        for attr in attrs(a) {
            let (kind, v) = attr?;
            if kind == CTRL_ATTR_FAMILY_NAME {
                names.push(get_str(v));
            }
        }
        Ok(())
    })
    .expect("dump of all families");
    assert!(names.iter().any(|n| n == "nlctrl"), "{names:?}");
}

#[test]
fn missing_family_is_eprotonosupport() {
    match open("nosuchfamwgrs") {
        Err(e) => assert_eq!(e.errno(), Some(93), "{e}"),
        Ok(_) => panic!("family should not exist"),
    }
}

#[test]
fn listing_links_works() {
    // The rtnetlink dump must succeed; whatever it lists must be an
    // interface that exists, with a valid name, and of kind wireguard.
    let names = wgrs_netlink::list_devices().expect("rtnetlink link dump");
    for name in &names {
        assert!(!name.is_empty() && name.len() < 16, "{name:?}");
        let dev = std::path::Path::new("/sys/class/net").join(name);
        assert!(dev.exists(), "{name} listed but not in /sys/class/net");
        let uevent = std::fs::read_to_string(dev.join("uevent")).unwrap_or_default();
        assert!(
            uevent.lines().any(|l| l == "DEVTYPE=wireguard"),
            "{name} is not a wireguard device"
        );
    }
}
