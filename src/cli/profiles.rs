//! `adalab profiles …`: list, show and save experiment profiles.

use std::io::Write;
use std::path::Path;

use super::report::table::write_table;
use crate::store::Store;

#[derive(Debug, Clone, clap::Subcommand)]
pub enum ProfilesCommand {
    /// List local, user and shipped profiles.
    List,
    /// Print a profile's resolved configuration.
    Show { name: String },
    /// Save a run's configuration as a user profile.
    Save {
        name: String,
        /// The run whose config to save.
        #[arg(long = "from", value_name = "RUN_ID")]
        from: String,
        /// Replace an existing user profile of that name.
        #[arg(long)]
        force: bool,
    },
}

/// Runs a `profiles` subcommand, printing to stdout.
pub fn run_profiles(cmd: ProfilesCommand, home: Option<&Path>) -> anyhow::Result<()> {
    let store = Store::open(home)?;
    run_profiles_with(&store, cmd, &mut super::out())
}

/// [`run_profiles`] with explicit output.
pub fn run_profiles_with(
    store: &Store,
    cmd: ProfilesCommand,
    out: &mut impl Write,
) -> anyhow::Result<()> {
    let dirs = store.profile_dirs();
    match cmd {
        ProfilesCommand::List => {
            let rows: Vec<Vec<String>> = dirs
                .list()
                .into_iter()
                .map(|p| {
                    vec![
                        p.name,
                        p.source.to_string(),
                        p.description,
                        p.path.display().to_string(),
                    ]
                })
                .collect();
            if rows.is_empty() {
                let searched: Vec<String> = dirs
                    .searched()
                    .iter()
                    .map(|p| p.display().to_string())
                    .collect();
                writeln!(out, "no profiles (looked in {})", searched.join(", "))?;
                return Ok(());
            }
            write_table(out, &["name", "source", "description", "path"], &rows)?;
            Ok(())
        }
        ProfilesCommand::Show { name } => {
            let (name, path, config) = dirs.resolve(&name)?;
            writeln!(out, "# profile {name} ({})", path.display())?;
            write!(out, "{}", config.to_toml_string())?;
            Ok(())
        }
        ProfilesCommand::Save { name, from, force } => {
            let run = store.load_run(&from)?;
            let path = dirs.save(&name, &run.record.config, force)?;
            writeln!(
                out,
                "saved the config of {} as profile {name} ({})",
                run.record.id,
                path.display()
            )?;
            Ok(())
        }
    }
}
