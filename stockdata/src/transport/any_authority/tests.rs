//! The shim's pieces: Huffman, the HPACK mirror, the authority rules; the
//! byte stream in `stream`, end to end in `e2e`.

use super::hpack::{Malformed, Mirror};
use super::*;
use codec::{Codec, How, INDEXED_HUFFMAN, PLAIN_LITERAL, text};
use rand::{Rng, SeedableRng};

mod codec;
mod e2e;
mod stream;

const BAD: &str = "127.0.0.1:5001,127.0.0.1:5002";
const FIXED: &str = "127.0.0.1-5001-127.0.0.1-5002";

fn hex(s: &str) -> Vec<u8> {
    (0..s.len())
        .step_by(2)
        .map(|i| u8::from_str_radix(&s[i..i + 2], 16).expect("hex"))
        .collect()
}

fn huffman(s: &[u8]) -> Vec<u8> {
    let mut out = Vec::new();
    huffman::encode(s, &mut out);
    out
}

fn unhuffman(s: &[u8]) -> Result<Vec<u8>, huffman::Invalid> {
    let mut out = Vec::new();
    huffman::decode(s, |b| out.push(b)).map(|_| out)
}

#[test]
fn huffman_matches_rfc_7541_and_round_trips_every_byte() {
    // RFC 7541 C.4.1 and C.4.3.
    assert_eq!(huffman(b"www.example.com"), hex("f1e3c2e5f23a6ba0ab90f4ff"));
    assert_eq!(huffman(b"custom-value"), hex("25a849e95bb8e8b4bf"));
    let all: Vec<u8> = (0..=255).collect();
    assert_eq!(unhuffman(&huffman(&all)), Ok(all.clone()));
    for b in all {
        assert_eq!(unhuffman(&huffman(&[b, b, b])), Ok(vec![b, b, b]), "{b}");
    }
    assert_eq!(unhuffman(b""), Ok(vec![]));
}

#[test]
fn huffman_rejects_bad_padding_and_eos() {
    let mut long_pad = huffman(b"a");
    long_pad.push(0xff); // 8 + 3 bits of padding
    assert!(unhuffman(&long_pad).is_err());
    // 'a' is 00011 (5 bits): padding 000 is not a prefix of EOS.
    assert!(unhuffman(&[0b0001_1000]).is_err());
    assert!(unhuffman(&[0xff, 0xff, 0xff, 0xff]).is_err(), "EOS");
}

#[test]
fn mirror_follows_rfc_7541_request_examples() {
    // C.3 (plain) and C.4 (Huffman): three requests sharing a table.
    for blocks in [
        [
            "828684410f7777772e6578616d706c652e636f6d",
            "828684be58086e6f2d6361636865",
            "828785bf400a637573746f6d2d6b65790c637573746f6d2d76616c7565",
        ],
        [
            "828684418cf1e3c2e5f23a6ba0ab90f4ff",
            "828684be5886a8eb10649cbf",
            "828785bf408825a849e95ba97d7f8925a849e95bb8e8b4bf",
        ],
    ] {
        let (mut mirror, mut codec) = (Mirror::new(4096), Codec::new());
        for (block, (size, len)) in blocks.iter().zip([(57, 1), (110, 2), (164, 3)]) {
            let block = hex(block);
            assert_eq!(mirror.walk(&block, rewrite_invalid), Ok(None));
            let fields = text(&codec.decode(&block));
            assert!(fields.contains(&(":authority".into(), "www.example.com".into())));
            assert_eq!((mirror.size(), mirror.len()), (size, len));
            assert_eq!((codec.size(), codec.len()), (size, len));
        }
    }
}

#[test]
fn mirror_tracks_evictions_and_size_updates_like_a_full_table() {
    let mut rng = rand_chacha::ChaCha8Rng::seed_from_u64(7);
    let (mut mirror, mut encoder, mut decoder) = (Mirror::new(4096), Codec::new(), Codec::new());
    for round in 0..400 {
        let mut block = Vec::new();
        if round % 37 == 5 {
            encoder.resize(&mut block, rng.random_range(0..=4096));
        }
        for _ in 0..rng.random_range(1..8) {
            let name = format!("x-h{}", rng.random_range(0..12));
            let value: String = (0..rng.random_range(0..300))
                .map(|_| rng.random_range(b' '..=b'~') as char)
                .collect();
            let how = How {
                kind: [0x40, 0x40, 0x00, 0x10][rng.random_range(0..4)],
                huffman: rng.random(),
                refer: rng.random(),
            };
            encoder.encode(&mut block, name.as_bytes(), value.as_bytes(), how);
        }
        assert_eq!(
            mirror.walk(&block, rewrite_invalid),
            Ok(None),
            "round {round}"
        );
        decoder.decode(&block);
        assert_eq!(
            (mirror.size(), mirror.len()),
            (decoder.size(), decoder.len())
        );
        assert_eq!(
            (encoder.size(), encoder.len()),
            (decoder.size(), decoder.len())
        );
    }
}

/// A gRPC request's fields with `authority`.
pub(super) fn request(authority: &str) -> Vec<(&'static str, String)> {
    [
        (":method", "POST"),
        (":scheme", "http"),
        (":path", "/stockdata.v1.Stocks/Get"),
        (":authority", authority),
        ("content-type", "application/grpc"),
        ("te", "trailers"),
        (
            "user-agent",
            "grpc-python/1.76.0 grpc-c/51.0.0 (linux; chttp2)",
        ),
    ]
    .map(|(n, v)| (n, v.to_string()))
    .to_vec()
}

pub(super) fn encode(codec: &mut Codec, fields: &[(&str, String)], how: How) -> Vec<u8> {
    let fields: Vec<(&str, &str)> = fields.iter().map(|(n, v)| (*n, v.as_str())).collect();
    codec.block(&fields, how)
}

#[test]
fn a_bad_authority_is_rewritten_to_the_same_length_and_tables_stay_in_step() {
    let (mut mirror, mut client, mut server) = (Mirror::new(4096), Codec::new(), Codec::new());
    for call in 0..3 {
        let block = encode(&mut client, &request(BAD), INDEXED_HUFFMAN);
        let walked = mirror.walk(&block, rewrite_invalid).expect("well formed");
        let decoded = text(&server.decode(walked.as_deref().unwrap_or(&block)));
        assert_eq!(
            decoded[3],
            (":authority".into(), FIXED.into()),
            "call {call}"
        );
        assert_eq!(decoded.len(), 7);
        // The literal is rewritten once; later calls index the table.
        assert_eq!(walked.is_some(), call == 0, "call {call}");
        assert_eq!((mirror.size(), mirror.len()), (client.size(), client.len()));
        assert_eq!((server.size(), server.len()), (client.size(), client.len()));
    }
    // Without indexing, every call carries (and gets rewritten) the literal.
    let block = encode(&mut client, &request("a:1:2"), PLAIN_LITERAL);
    let walked = mirror.walk(&block, rewrite_invalid).expect("well formed");
    let decoded = text(&server.decode(&walked.expect("rewritten")));
    assert_eq!(decoded[3].1, "a-1-2");
}

#[test]
fn a_good_authority_block_is_left_alone() {
    let mut mirror = Mirror::new(4096);
    let mut client = Codec::new();
    for authority in [
        "stockdata:50051",
        "127.0.0.1:5001",
        "[::1]:50051",
        "user@host:1",
    ] {
        let block = encode(&mut client, &request(authority), INDEXED_HUFFMAN);
        assert_eq!(
            mirror.walk(&block, rewrite_invalid),
            Ok(None),
            "{authority}"
        );
    }
}

#[test]
fn malformed_blocks_are_reported() {
    let mut mirror = Mirror::new(4096);
    for block in [
        &[0x80][..],
        &[0xbe],
        &[0x41, 0x85, 0xff],
        &[0x82, 0x20],
        &[0x3f, 0xe2, 0x1f],
    ] {
        assert_eq!(
            mirror.walk(block, rewrite_invalid),
            Err(Malformed),
            "{block:x?}"
        );
    }
}

#[test]
fn substitutes_are_always_valid_and_the_fast_check_agrees_with_http() {
    let mut rng = rand_chacha::ChaCha8Rng::seed_from_u64(3);
    let mut cases: Vec<Vec<u8>> = [
        "a",
        "a:1",
        "a:b",
        "a:1:2",
        ":",
        "a@",
        "@a",
        "[::1]:80",
        "[::1",
        "x%20y",
        "a b",
        "é",
        "h_o~s.t-1:8080",
        BAD,
        "a/b",
        "a?b",
        "a#b",
        "",
    ]
    .iter()
    .map(|s| s.as_bytes().to_vec())
    .collect();
    cases.extend((0..2000).map(|_| {
        let len = rng.random_range(0..12);
        (0..len).map(|_| rng.random_range(b' '..=0x80)).collect()
    }));
    for case in cases {
        let http = http::uri::Authority::try_from(&case[..]).is_ok();
        assert_eq!(authority_is_valid(&case), http, "{case:x?}");
        let fixed = substitute(&case);
        assert_eq!(fixed.len(), case.len());
        assert!(case.is_empty() || authority_is_valid(&fixed), "{fixed:x?}");
    }
}
