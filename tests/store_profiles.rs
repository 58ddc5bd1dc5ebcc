//! Profile lookup, listing and saving; CLI parsing of the store commands.

use std::path::Path;

use adalab::cli::profiles::{run_profiles_with, ProfilesCommand};
use adalab::cli::runs::RunsCommand;
use adalab::config::{Config, HeadKind};
use adalab::store::profiles::Shipped;
use adalab::store::{ProfileDirs, ProfileSource, Store, StoreError};
use adalab::train::{Event, Outcome};
use clap::{CommandFactory, Parser};

/// Profile folders under `root`, and the shipped folder (a folder here, built in for users).
fn dirs(root: &Path) -> (ProfileDirs, std::path::PathBuf) {
    let shipped = root.join("shipped");
    let d = ProfileDirs {
        local: root.join("local"),
        user: root.join("user"),
        shipped: Shipped::Dir(shipped.clone()),
    };
    for p in [&d.local, &d.user, &shipped] {
        std::fs::create_dir_all(p).unwrap();
    }
    (d, shipped)
}

fn write(dir: &Path, name: &str, text: &str) {
    std::fs::write(dir.join(format!("{name}.toml")), text).unwrap();
}

#[test]
fn lookup_order_listing_and_errors() {
    let tmp = tempfile::tempdir().unwrap();
    let (d, shipped) = dirs(tmp.path());
    write(&shipped, "default", "description = \"shipped default\"\n");
    write(
        &shipped,
        "arc",
        "description = \"arc\"\n[head]\nkind = \"arcface\"\nm = 0.3\n",
    );
    write(&d.user, "default", "description = \"user default\"\n");
    write(
        &d.local,
        "mine",
        "description = \"local one\"\n[train]\nepochs = 2\n",
    );
    write(&d.user, "broken", "[train]\nepochz = 3\n");

    let (name, path, cfg) = d.resolve("default").unwrap();
    assert_eq!(name, "default");
    assert_eq!(path, d.user.join("default.toml"));
    assert_eq!(cfg.description, "user default");
    let (_, _, cfg) = d.resolve("arc").unwrap();
    assert_eq!(cfg.head.kind, HeadKind::Arcface);
    assert_eq!(d.resolve("mine").unwrap().2.train.epochs, 2);

    // A path to a file.
    let file = tmp.path().join("exp one.toml");
    std::fs::write(&file, "[train]\nepochs = 4\n").unwrap();
    let (name, p, cfg) = d.resolve(file.to_str().unwrap()).unwrap();
    assert_eq!((name.as_str(), p, cfg.train.epochs), ("exp-one", file, 4));

    // Errors name file and key; unknown names list where we looked.
    let e = d.resolve("broken").unwrap_err().to_string();
    assert!(
        e.contains("broken.toml") && e.contains("train.epochz"),
        "{e}"
    );
    let e = d.resolve("nope").unwrap_err();
    assert!(matches!(e, StoreError::UnknownProfile { .. }));
    assert!(e.to_string().contains("shipped"), "{e}");
    assert!(d.resolve("../nope").is_err());
    assert!(d
        .resolve("missing/file.toml")
        .unwrap_err()
        .to_string()
        .contains("no such profile file"));

    let list = d.list();
    let names: Vec<&str> = list.iter().map(|p| p.name.as_str()).collect();
    assert_eq!(names, ["arc", "broken", "default", "mine"]);
    let def = list.iter().find(|p| p.name == "default").unwrap();
    assert_eq!(def.source, ProfileSource::User);
    let broken = list.iter().find(|p| p.name == "broken").unwrap();
    assert!(broken.error.as_ref().unwrap().contains("train.epochz"));
    assert_eq!(
        list.iter().find(|p| p.name == "mine").unwrap().source,
        ProfileSource::Local
    );

    // Save refuses to overwrite without force.
    let mut c = Config::default();
    c.train.epochs = 7;
    let p = d.save("saved", &c, false).unwrap();
    assert_eq!(Config::load(&p).unwrap(), c);
    assert!(matches!(
        d.save("saved", &c, false),
        Err(StoreError::ProfileExists { .. })
    ));
    d.save("saved", &Config::default(), true).unwrap();
    assert_eq!(Config::load(&p).unwrap(), Config::default());
}

#[test]
fn profiles_cli_saves_a_runs_config() {
    let tmp = tempfile::tempdir().unwrap();
    let home = tmp.path().join("home");
    let store = Store::with_dirs(&home, &home);
    let mut cfg = Config::default();
    cfg.head.kind = HeadKind::Cosface;
    cfg.head.m = 0.2;
    let mut w = store.create_run(&cfg, "x").unwrap();
    w.handle(&Event::Finished {
        outcome: Outcome::Finished,
    })
    .unwrap();
    let mut out = Vec::new();
    run_profiles_with(
        &store,
        ProfilesCommand::Save {
            name: "from-run".into(),
            from: w.id().into(),
            force: false,
        },
        &mut out,
    )
    .unwrap();
    let saved = home.join("profiles").join("from-run.toml");
    assert_eq!(Config::load(&saved).unwrap(), cfg);
    let mut out = Vec::new();
    run_profiles_with(&store, ProfilesCommand::List, &mut out).unwrap();
    let text = String::from_utf8(out).unwrap();
    assert!(text.contains("from-run") && text.contains("user"), "{text}");
    let mut out = Vec::new();
    run_profiles_with(
        &store,
        ProfilesCommand::Show {
            name: "from-run".into(),
        },
        &mut out,
    )
    .unwrap();
    assert!(String::from_utf8(out)
        .unwrap()
        .contains("kind = \"cosface\""));
}

#[test]
fn profiles_show_takes_a_runs_full_name_with_its_changes() {
    let tmp = tempfile::tempdir().unwrap();
    let home = tmp.path().join("home");
    let store = Store::with_dirs(&home, &home);
    let mut base = Config::default();
    base.head.kind = HeadKind::AdacosFixed;
    base.train.epochs = 3;
    store.profile_dirs().save("mine", &base, false).unwrap();
    let mut cfg = base.clone();
    cfg.head.kind = HeadKind::Arcface;
    cfg.train.epochs = 5;
    let name = adalab::store::profiles::run_name("mine", &base, &cfg);
    let w = store.create_run(&cfg, &name).unwrap();
    let recorded = store.load_run(w.id()).unwrap().record.name();
    assert_eq!(recorded, "mine · head=arcface train.epochs=5");
    let show = |name: &str| {
        let mut out = Vec::new();
        run_profiles_with(
            &store,
            ProfilesCommand::Show { name: name.into() },
            &mut out,
        )
        .map(|()| String::from_utf8(out).unwrap())
    };
    let text = show(&recorded).unwrap();
    assert!(text.starts_with("# profile mine ("), "{text}");
    assert!(text.contains("head.kind: adacos-fixed → arcface"), "{text}");
    assert!(text.contains("train.epochs: 3 → 5"), "{text}");
    // The config shown is the run's: the profile with the changes applied.
    let toml: String = text
        .lines()
        .filter(|l| !l.starts_with('#'))
        .map(|l| format!("{l}\n"))
        .collect();
    assert_eq!(Config::from_toml_str(&toml).unwrap(), cfg);
    // The profile alone still shows as before.
    let plain = show("mine").unwrap();
    assert!(plain.contains("kind = \"adacos-fixed\""), "{plain}");
    assert!(!plain.contains("→"), "{plain}");
    // A change that names no key is refused, naming it.
    let e = show("mine · nosuch=1").unwrap_err().to_string();
    assert!(e.contains("nosuch") && e.contains("mine"), "{e}");
}

#[derive(Parser)]
struct Cli {
    #[command(subcommand)]
    cmd: Top,
}

#[derive(clap::Subcommand)]
enum Top {
    #[command(subcommand)]
    Runs(RunsCommand),
    #[command(subcommand)]
    Profiles(ProfilesCommand),
}

#[test]
fn command_line_parses() {
    Cli::command().debug_assert();
    let c = Cli::try_parse_from([
        "adalab",
        "runs",
        "list",
        "--filter",
        "status=finished",
        "--filter",
        "tag=x",
        "--sort",
        "auc",
        "--json",
    ])
    .unwrap();
    match c.cmd {
        Top::Runs(RunsCommand::List { filter, json, .. }) => {
            assert_eq!(filter.len(), 2);
            assert!(json);
        }
        _ => panic!("wrong command"),
    }
    assert!(Cli::try_parse_from(["adalab", "runs", "compare", "a"]).is_err());
    assert!(Cli::try_parse_from(["adalab", "runs", "compare", "a", "b"]).is_ok());
    assert!(Cli::try_parse_from(["adalab", "runs", "export", "--format", "md"]).is_ok());
    assert!(Cli::try_parse_from(["adalab", "runs", "delete", "a", "--yes"]).is_ok());
    assert!(Cli::try_parse_from(["adalab", "profiles", "save", "n", "--from", "r"]).is_ok());
}

#[test]
fn shipped_profiles_and_studies_come_with_the_binary() {
    // From a folder that holds no profiles/ at all, as an installed adalab runs.
    let cwd = tempfile::tempdir().unwrap();
    let home = tempfile::tempdir().unwrap();
    let run = |args: &[&str]| {
        let out = std::process::Command::new(env!("CARGO_BIN_EXE_adalab"))
            .args(args)
            .env("ADALAB_HOME", home.path())
            .env("ADALAB_CONFIG", home.path().join("config"))
            .current_dir(cwd.path())
            .output()
            .unwrap();
        assert!(
            out.status.success(),
            "{}",
            String::from_utf8_lossy(&out.stderr)
        );
        String::from_utf8_lossy(&out.stdout).into_owned()
    };
    let list = run(&["profiles", "list"]);
    for name in [
        "fashion-sneaker-boot-adacos-fixed",
        "cifar-deer-horse-arcface",
        "synthetic-demo",
    ] {
        let line = list
            .lines()
            .find(|l| l.starts_with(name))
            .unwrap_or_else(|| panic!("{list}"));
        assert!(line.contains("shipped"), "{line}");
    }
    let shown = run(&["profiles", "show", "synthetic-demo"]);
    assert!(shown.contains("dataset = \"synthetic\""), "{shown}");
    let studies = run(&["study", "list"]);
    assert!(
        studies.contains("seed-fashion") && studies.contains("synthetic-study"),
        "{studies}"
    );
}
