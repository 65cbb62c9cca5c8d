//! What the management API changed, kept encrypted under the data dir
//! (`.oilmat-host-state`), so it wins over the config file at the next start.

use std::collections::{BTreeMap, BTreeSet};
use std::io::Write;
use std::path::{Path, PathBuf};

use anyhow::Context;
use serde::{Deserialize, Serialize};

use crate::config::IntegrationConfig;
use crate::secrets::Cipher;

const FILE: &str = ".oilmat-host-state";
const CONTEXT: &str = "oilmat-erp/host-state";

/// The integrations created or changed through the API, and those deleted.
#[derive(Debug, Clone, Default, Serialize, Deserialize)]
pub struct HostState {
    /// Full configurations, by workshop.
    #[serde(default)]
    pub integrations: BTreeMap<String, IntegrationConfig>,
    /// Deleted through the API: stay deleted even if the file names them.
    #[serde(default)]
    pub deleted: BTreeSet<String>,
}

impl HostState {
    fn path(data_dir: &Path) -> PathBuf {
        data_dir.join(FILE)
    }

    /// Whether the API has kept any state under `data_dir`.
    pub fn exists(data_dir: &Path) -> bool {
        Self::path(data_dir).is_file()
    }

    /// Reads the state (empty if there is none yet).
    pub fn load(data_dir: &Path, cipher: &Cipher) -> anyhow::Result<HostState> {
        let path = Self::path(data_dir);
        let sealed = match std::fs::read(&path) {
            Ok(bytes) => bytes,
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(HostState::default()),
            Err(e) => return Err(e).with_context(|| format!("cannot read {}", path.display())),
        };
        let plain = cipher
            .open(&sealed, CONTEXT)
            .with_context(|| format!("cannot decrypt {}", path.display()))?;
        serde_json::from_slice(&plain).with_context(|| format!("{} is unreadable", path.display()))
    }

    /// Writes the state atomically (temp file, fsync, rename).
    pub fn save(&self, data_dir: &Path, cipher: &Cipher) -> anyhow::Result<()> {
        std::fs::create_dir_all(data_dir)?;
        let path = Self::path(data_dir);
        let tmp = path.with_extension("tmp");
        let sealed = cipher.seal(&serde_json::to_vec(self)?, CONTEXT);
        let mut file = std::fs::File::create(&tmp)
            .with_context(|| format!("cannot write {}", tmp.display()))?;
        file.write_all(&sealed)?;
        file.sync_all()?;
        std::fs::rename(&tmp, &path)
            .with_context(|| format!("cannot replace {}", path.display()))?;
        Ok(())
    }

    /// The integrations in force: the file's, overridden by the API's, minus the deleted.
    pub fn effective(
        &self,
        file: &BTreeMap<String, IntegrationConfig>,
    ) -> BTreeMap<String, IntegrationConfig> {
        let mut all = file.clone();
        all.extend(self.integrations.clone());
        all.retain(|name, _| !self.deleted.contains(name));
        all
    }
}
