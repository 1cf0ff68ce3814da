//! Exercises the real socket code against the generic netlink controller,
//! which every Linux kernel has (the `wireguard` family may be absent on a
//! build host). Skips when netlink sockets are not available at all.

use wgrs_netlink::attr::{attrs, get_str};
use wgrs_netlink::consts::{CTRL_ATTR_FAMILY_NAME, CTRL_CMD_GETFAMILY};
use wgrs_netlink::{Error, GenlSocket};

const NLM_F_DUMP: u16 = 0x300;

fn open(name: &str) -> Option<Result<GenlSocket, Error>> {
    match GenlSocket::open(name, 1) {
        Err(Error::Io(e)) => {
            eprintln!("skipping: no netlink here ({e})");
            None
        }
        r => Some(r),
    }
}

#[test]
fn resolves_controller_and_dumps_families() {
    let Some(sock) = open("nlctrl") else { return };
    let mut sock = sock.expect("nlctrl always exists");
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
    let Some(r) = open("nosuchfamwgrs") else {
        return;
    };
    match r {
        Err(e) => assert_eq!(e.errno(), Some(93), "{e}"),
        Ok(_) => panic!("family should not exist"),
    }
}

#[test]
fn listing_links_works() {
    match wgrs_netlink::list_devices() {
        Ok(_) => {}
        Err(Error::Io(e)) => eprintln!("skipping: {e}"),
        Err(e) => panic!("{e}"),
    }
}
