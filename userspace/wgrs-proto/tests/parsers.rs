// SPDX-License-Identifier: GPL-2.0
//! Everything that consumes network bytes must not panic on any input, and
//! serialisation must round-trip.

mod common;

use common::C;
use proptest::prelude::*;
use wgrs_proto::proto::cookie::{CookieResponder, PeerCookie};
use wgrs_proto::proto::inner;
use wgrs_proto::proto::keypair::{Keypair, Keypairs, Session};
use wgrs_proto::proto::messages::*;
use wgrs_proto::proto::noise::{consume_initiation_begin, Handshake, StaticIdentity};

fn with_type(mut v: Vec<u8>, ty: u8, len: usize) -> Vec<u8> {
    v.resize(len, 0);
    v[0] = ty;
    v[1..4].fill(0);
    v
}

#[test]
fn strict_type_and_length_table() {
    let ok = [
        (1u8, INITIATION_LEN, MessageKind::Initiation),
        (2, RESPONSE_LEN, MessageKind::Response),
        (3, COOKIE_REPLY_LEN, MessageKind::CookieReply),
        (4, DATA_MIN_LEN, MessageKind::Data),
        (4, 1500, MessageKind::Data),
    ];
    for (ty, len, kind) in ok {
        let v = with_type(vec![], ty, len);
        assert_eq!(classify(&v), Ok(kind));
        // One byte more or less is wrong for handshake messages.
        if ty != 4 {
            assert_eq!(classify(&v[..len - 1]), Err(ParseError::BadLength));
            let mut w = v.clone();
            w.push(0);
            assert_eq!(classify(&w), Err(ParseError::BadLength));
        }
        // Reserved bytes must be zero.
        let mut w = v.clone();
        w[2] = 1;
        assert_eq!(classify(&w), Err(ParseError::BadType));
    }
    assert_eq!(
        classify(&with_type(vec![], 4, DATA_MIN_LEN - 1)),
        Err(ParseError::BadLength)
    );
    assert_eq!(
        classify(&with_type(vec![], 0, 148)),
        Err(ParseError::BadType)
    );
    assert_eq!(
        classify(&with_type(vec![], 5, 148)),
        Err(ParseError::BadType)
    );
    assert_eq!(classify(&[1, 0, 0]), Err(ParseError::TooShort));
    assert_eq!(classify(&[]), Err(ParseError::TooShort));
    // Typed parsers refuse other types.
    assert_eq!(
        Initiation::parse(&with_type(vec![], 2, 148)),
        Err(ParseError::BadType)
    );
    assert_eq!(
        Response::parse(&with_type(vec![], 2, 148)),
        Err(ParseError::BadLength)
    );
}

#[test]
fn padding() {
    assert_eq!(padded_len(0, 1420), 0);
    assert_eq!(padded_len(1, 1420), 16);
    assert_eq!(padded_len(16, 1420), 16);
    assert_eq!(padded_len(1419, 1420), 1420);
    assert_eq!(padded_len(1420, 1420), 1420);
    assert_eq!(
        padded_len(1500, 1420),
        1500,
        "over-MTU: len % mtu = 80 is aligned"
    );
    assert_eq!(padded_len(1501, 1420), 1516);
    assert_eq!(
        padded_len(2839, 1420),
        2840,
        "capped at mtu for the last unit"
    );
    assert_eq!(padded_len(17, 0), 32, "unknown mtu");
    assert_eq!(padding_len(0, 0), 0);
    assert_eq!(padded_len(usize::MAX, 1420), usize::MAX);
    assert_eq!(padded_len(usize::MAX, 0), usize::MAX);
}

proptest! {
    #[test]
    fn roundtrip_initiation(sender in any::<u32>(), e in any::<[u8; 32]>(), s in prop::collection::vec(any::<u8>(), 48),
                            t in prop::collection::vec(any::<u8>(), 28), m1 in any::<[u8; 16]>(), m2 in any::<[u8; 16]>()) {
        let m = Initiation { sender, ephemeral: e, encrypted_static: s.try_into().unwrap(),
                             encrypted_timestamp: t.try_into().unwrap(), mac1: m1, mac2: m2 };
        let b = m.to_bytes();
        prop_assert_eq!(classify(&b), Ok(MessageKind::Initiation));
        prop_assert_eq!(Initiation::parse(&b), Ok(m));
    }

    #[test]
    fn roundtrip_response(sender in any::<u32>(), receiver in any::<u32>(), e in any::<[u8; 32]>(),
                          n in any::<[u8; 16]>(), m1 in any::<[u8; 16]>(), m2 in any::<[u8; 16]>()) {
        let m = Response { sender, receiver, ephemeral: e, encrypted_nothing: n, mac1: m1, mac2: m2 };
        prop_assert_eq!(Response::parse(&m.to_bytes()), Ok(m));
    }

    #[test]
    fn roundtrip_cookie_and_data(receiver in any::<u32>(), nonce in any::<[u8; 24]>(), c in any::<[u8; 32]>(), ctr in any::<u64>()) {
        let m = CookieReply { receiver, nonce, encrypted_cookie: c };
        prop_assert_eq!(CookieReply::parse(&m.to_bytes()), Ok(m));
        let mut b = [0u8; 48];
        let h = DataHeader { receiver, counter: ctr };
        prop_assert!(h.write(&mut b));
        let (h2, rest) = DataHeader::parse(&b).unwrap();
        prop_assert_eq!(h2, h);
        prop_assert_eq!(rest.len(), 32);
        // A receiver whose packet holds only the header contiguously (the
        // rest in page fragments) still gets it, from 16 bytes.
        prop_assert_eq!(DataHeader::parse_header(&b[..16]), Ok(h));
        prop_assert_eq!(DataHeader::parse_header(&b), Ok(h));
        prop_assert!(DataHeader::parse(&b[..16]).is_err());
    }

    #[test]
    fn data_header_needs_sixteen_bytes_and_type_four(b in prop::collection::vec(any::<u8>(), 0..40)) {
        let r = DataHeader::parse_header(&b);
        let is_data = b.len() >= 4 && b[..4] == [4, 0, 0, 0];
        prop_assert_eq!(r.is_ok(), is_data && b.len() >= 16);
    }

    #[test]
    fn arbitrary_bytes_never_panic(data in prop::collection::vec(any::<u8>(), 0..300), ty in 0u8..6) {
        let mut d = data.clone();
        if d.len() >= 4 && ty < 5 { d[0] = ty; d[1] = 0; d[2] = 0; d[3] = 0; }
        for buf in [&data[..], &d[..]] {
            let _ = classify(buf);
            let _ = Initiation::parse(buf);
            let _ = Response::parse(buf);
            let _ = CookieReply::parse(buf);
            let _ = DataHeader::parse(buf);
            let _ = DataHeader::parse_header(buf);
            let _ = inner::parse(buf);
        }
    }

    #[test]
    fn handshake_consumers_never_panic(body in prop::collection::vec(any::<u8>(), 148)) {
        let (sk, _) = common::keypair_from(3);
        let id = StaticIdentity::from_private(&C, &sk).unwrap();
        let mut checker = CookieResponder::new(&C, Some(&id.public));
        let b = with_type(body.clone(), 1, INITIATION_LEN);
        let _ = checker.validate(&C, &b, &[127, 0, 0, 1], 1, true, 0);
        let _ = checker.create_reply(&C, &b, 1, &[1; 16], 1, 0);
        let m = Initiation::parse(&b).unwrap();
        prop_assert!(consume_initiation_begin(&C, &id, &m).is_err());
        let r = Response::parse(&with_type(body.clone(), 2, RESPONSE_LEN)).unwrap();
        let mut hs = Handshake::new(&C, &id, &[9; 32], &[0; 32]);
        prop_assert!(hs.consume_response(&C, &id, &r).is_err());
        let c = CookieReply::parse(&with_type(body.clone(), 3, COOKIE_REPLY_LEN)).unwrap();
        let mut pc = PeerCookie::new(&C, &[9; 32]);
        prop_assert!(pc.consume_reply(&C, &c, 0).is_err());
        let mut msg = [0u8; 148];
        pc.add_macs(&C, &mut msg, 0).unwrap();
        prop_assert!(pc.consume_reply(&C, &c, 0).is_err());
    }

    #[test]
    fn data_path_never_panics(body in prop::collection::vec(any::<u8>(), 0..200), idx in 0u32..3) {
        let mut kps = Keypairs::<Session>::new();
        let _ = kps.add(Keypair::new([1; 32], [2; 32], true, 1, 5, 0));
        let _ = kps.add(Keypair::new([3; 32], [4; 32], false, 2, 6, 0));
        let mut b = body.clone();
        if b.len() >= 8 { b[..4].copy_from_slice(&4u32.to_le_bytes()); b[4..8].copy_from_slice(&idx.to_le_bytes()); }
        prop_assert!(kps.open(&C, 1, &mut b).is_err());
        let mut kp = Session::new(Keypair::new([1; 32], [2; 32], true, 1, 5, 0));
        let mut b2 = body.clone();
        let _ = kp.seal(&C, 1, &mut b2);
        let _ = kp.open(&C, 1, &mut b2);
    }
}
