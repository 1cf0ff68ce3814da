//! Against the running kernel, needing no privilege and no wgrs.ko: the
//! controller resolution (family id and multicast group) on the `nlctrl`
//! family itself, and the clear error when `wgrs_gate` is absent.

use wgrs_gate_netlink::{resolve_family, Error, GateClient};

#[test]
fn resolves_nlctrl_and_its_notify_group() {
    match resolve_family("nlctrl", "notify") {
        Ok(ids) => {
            assert_eq!(ids.family_id, 0x10); // GENL_ID_CTRL
            assert_eq!(ids.events_group, 0x10); // GENL_ID_CTRL's group
        }
        // A sandbox without netlink sockets: nothing to test here.
        Err(Error::Io { error, .. })
            if error.raw_os_error() == Some(libc_eafnosupport())
                || error.kind() == std::io::ErrorKind::PermissionDenied => {}
        Err(e) => panic!("{e}"),
    }
}

#[test]
fn missing_family_and_group_are_reported() {
    match resolve_family("nosuchfamily", "events") {
        Err(Error::FamilyMissing(n)) => assert_eq!(n, "nosuchfamily"),
        Err(Error::Io { .. }) => {}
        other => panic!("{:?}", other.map(|_| ())),
    }
    match resolve_family("nlctrl", "no-such-group") {
        Err(Error::Decode(m)) => assert!(m.contains("no-such-group"), "{m}"),
        Err(Error::Io { .. }) => {}
        other => panic!("{:?}", other.map(|_| ())),
    }
}

#[test]
fn gate_client_says_what_is_missing() {
    // With wgrs.ko and its gate loaded this opens; without, the error
    // names the family.
    if let Err(e) = GateClient::open() {
        let s = e.to_string();
        assert!(
            matches!(e, Error::FamilyMissing(_) | Error::Io { .. }),
            "unexpected: {s}"
        );
    }
}

fn libc_eafnosupport() -> i32 {
    97
}
