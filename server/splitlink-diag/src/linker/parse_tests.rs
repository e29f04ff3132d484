//! Tests of the linker output grammar (`parse.rs`).
use super::*;

#[test]
fn mold_dropped_newlines() {
    let lines = split_mold_lines(
        "mold: error: undefined symbol: f\n>>> referenced by a.rs:1\n>>>               a.o:(x)>>> referenced by b.o:(<Box<Vec<T>>> as Drop>::drop)",
    );
    assert_eq!(lines.len(), 4, "{lines:?}");
    assert!(lines[3].contains("<Box<Vec<T>>> as Drop>"));
}

#[test]
fn locations() {
    let s = parse_location("main.rs:6 (src/main.rs:6)");
    assert_eq!(s.file_line, Some(("src/main.rs".into(), 6)));
    let s = parse_location("/o/x.rcgu.o:(undef_bin::main::hbc9aeb448ff5bfb0)");
    assert_eq!(s.object.as_deref(), Some("/o/x.rcgu.o"));
    assert_eq!(s.function.as_deref(), Some("undef_bin::main::hbc9aeb448ff5bfb0"));
    let s = parse_location("m.rcgu.o:(mylib::compute::h1) in archive /t/libmylib.rlib");
    assert_eq!(s.archive.as_deref(), Some("/t/libmylib.rlib"));
    let s = parse_location("7t1tz:(.text._ZN3app3run17h0123456789abcdefE+0x18)");
    assert_eq!(s.function.as_deref(), Some("_ZN3app3run17h0123456789abcdefE"));
    let s = parse_location("(.text+0x17)");
    assert_eq!((s.section.as_deref(), s.function.as_deref(), s.object.as_deref()), (Some(".text+0x17"), None, None));
    let s = parse_location("/t/libb.rlib(b-1.o):/w/b/src/lib.rs:4");
    assert_eq!(s.object.as_deref(), Some("/t/libb.rlib(b-1.o)"));
    assert_eq!(s.file_line, Some(("/w/b/src/lib.rs".into(), 4)));
    let s = parse_location("/o/x.rcgu.o:7t1tz:function undef_dbg::ffi_user::use_it");
    assert_eq!(s.object.as_deref(), Some("/o/x.rcgu.o"));
    assert_eq!(s.function.as_deref(), Some("undef_dbg::ffi_user::use_it"));
    let s = parse_location("x.o:(<app::S<'a> as core::ops::Fn<(u8,)>>::call)");
    assert_eq!(s.function.as_deref(), Some("<app::S<'a> as core::ops::Fn<(u8,)>>::call"));
}

#[test]
fn lld_and_gold_grammar() {
    let p = parse(
        "rust-lld: error: undefined symbol: f\n\
         >>> referenced by a.rs:3 (src/a.rs:3)\n\
         >>>               a.o:(app::g::h0123456789abcdef)\n\
         >>> referenced by b.o:(app::h)\n\
         >>> referenced 4 more times\n\
         >>> did you mean: g\n\
         >>> defined in: c.o\n\
         \n\
         rust-lld: error: too many errors emitted, stopping now (use --error-limit=0 to see all errors)\n\
         wasm-ld: error: /o/x.o: undefined symbol: w\n\
         /o/y.o:y-cgu:function app::k: error: undefined reference to 'f2'\n\
         /usr/bin/ld.gold: --bogus: unknown option\n\
         collect2: fatal error: ld terminated with signal 11 [Segmentation fault], core dumped\n",
    );
    let r = &p.records[0];
    assert_eq!((r.kind, r.subject.as_deref(), r.more), (RecKind::Undefined, Some("f"), 4));
    assert_eq!(r.sites.len(), 2);
    assert_eq!(r.sites[0].file_line, Some(("src/a.rs".into(), 3)));
    assert_eq!(r.sites[0].function.as_deref(), Some("app::g::h0123456789abcdef"));
    assert_eq!(r.sites[1].function.as_deref(), Some("app::h"));
    assert!(r.notes.iter().any(|n| n.contains("did you mean `g`")));
    assert!(r.notes.iter().any(|n| n.contains("too many errors")));
    assert!(p.truncated);
    let w = &p.records[1];
    assert_eq!((w.subject.as_deref(), w.sites[0].object.as_deref()), (Some("w"), Some("/o/x.o")));
    let g = &p.records[2];
    assert_eq!((g.subject.as_deref(), g.sites[0].function.as_deref()), (Some("f2"), Some("app::k")));
    assert_eq!((p.records[3].kind, p.records[3].subject.as_deref()), (RecKind::UnknownArgument, Some("--bogus")));
    assert_eq!(p.records[4].kind, RecKind::Crashed);
    assert_eq!(p.records.len(), 5);
}

#[test]
fn bfd_grammar() {
    let p = parse(
        "/usr/bin/ld: /o/a.o: in function `app::run':\n\
         /w/src/lib.rs:7: undefined reference to `foo'\n\
         /usr/bin/ld: /w/src/lib.rs:8: undefined reference to `foo'\n\
         /usr/bin/ld: /w/src/lib.rs:9: more undefined references to `foo' follow\n\
         /usr/bin/ld: /o/b.o: in function `<app::S<'a> as app::T>::f':\n\
         b:(.text._ZN3app1f17h0123456789abcdefE+0x5): undefined reference to `bar'\n\
         /usr/bin/ld: cannot find -lssl: No such file or directory\n\
         /usr/bin/ld: unrecognized option '--nope'\n\
         /usr/bin/ld: use the --help option for usage information\n\
         collect2: error: ld returned 1 exit status\n",
    );
    let kinds: Vec<_> = p.records.iter().map(|r| (r.kind, r.subject.clone())).collect();
    assert_eq!(
        kinds,
        vec![
            (RecKind::Undefined, Some("foo".into())),
            (RecKind::Undefined, Some("bar".into())),
            (RecKind::LibraryNotFound, Some("ssl".into())),
            (RecKind::UnknownArgument, Some("--nope".into())),
        ]
    );
    let foo = &p.records[0];
    assert_eq!(foo.sites.len(), 3);
    assert!(foo.more_follow);
    assert_eq!(foo.sites[1].function.as_deref(), Some("app::run"));
    assert_eq!(p.records[1].sites[0].function.as_deref(), Some("<app::S<'a> as app::T>::f"));
    assert_eq!(p.records[3].raw.len(), 3);
}

#[test]
fn wild_grammar() {
    // wild 0.10.0, debug (DWARF: a line, without the directory under the compilation dir) and
    // release (the object only).
    let p = parse(
        "wild: error: Undefined symbol missing_fn, referenced by \n    /tmp/w5/main.rs:7\n    /tmp/w5/target/debug/deps/w5-c98.akb1q.rcgu.o\ncollect2: error: ld returned 255 exit status\n",
    );
    assert_eq!(p.records.len(), 1, "{:#?}", p.records);
    let r = &p.records[0];
    assert_eq!((r.kind, r.subject.as_deref()), (RecKind::Undefined, Some("missing_fn")));
    assert_eq!(r.sites.len(), 1, "{:#?}", r.sites);
    assert_eq!(r.sites[0].file_line, Some(("/tmp/w5/main.rs".into(), 7)));
    assert_eq!(r.sites[0].object.as_deref(), Some("/tmp/w5/target/debug/deps/w5-c98.akb1q.rcgu.o"));
    let p = parse("wild: error: Undefined symbol missing_fn, referenced by \n    /t/release/deps/w5-6ac.w5.6a93-cgu.0.rcgu.o\n");
    let r = &p.records[0];
    assert_eq!(
        (r.sites.len(), r.sites[0].file_line.as_ref(), r.sites[0].object.as_deref()),
        (1, None, Some("/t/release/deps/w5-6ac.w5.6a93-cgu.0.rcgu.o"))
    );
}
