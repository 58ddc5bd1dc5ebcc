//! `adalab profiles …`: list, show and save experiment profiles.

use std::io::Write;
use std::path::Path;

use super::report::table::write_table;
use crate::store::profiles::{apply_changes, change_key, split_run_name};
use crate::store::Store;

#[derive(Debug, Clone, clap::Subcommand)]
pub enum ProfilesCommand {
    /// List local, user and shipped profiles.
    List,
    /// Print a profile's resolved configuration. NAME may be a run's full name
    /// (`profile · head=arcface`): the profile, what the run changed, and the run's config.
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
            // A run's full name (`profile · head=arcface`): the profile, then its changes.
            let (profile, changes) = split_run_name(&name);
            let (name, path, base) = dirs.resolve(profile)?;
            writeln!(out, "# profile {name} ({})", path.display())?;
            if changes.is_empty() {
                write!(out, "{}", base.to_toml_string())?;
                return Ok(());
            }
            let config = apply_changes(&base, &changes).map_err(|e| {
                anyhow::anyhow!(
                    "the run name's change `{}` does not apply to profile {name}: {}",
                    e.key,
                    e.message
                )
            })?;
            writeln!(out, "# with the run's changes ({}):", changes.len())?;
            for word in &changes {
                let (k, _) = word.split_once('=').unwrap_or((word, ""));
                let key = change_key(k).unwrap_or(k);
                let was = base.get(key).unwrap_or_else(|| "unset".into());
                let now = config.get(key).unwrap_or_else(|| "unset".into());
                writeln!(out, "#   {key}: {was} → {now}")?;
            }
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
