//! What the registry does, independent of HTTP: every change is appended to the log first,
//! acknowledged by the broker, then applied to the in-memory state.

use crate::compat::{self, CompatibilityLevel};
use crate::error::ApiError;
use crate::log::SchemaLog;
use crate::state::{canonical, ConfigValue, LogKey, SchemaValue, State};
use apache_avro::Schema;
use tokio::sync::{Mutex, RwLock};

pub struct Registry {
    state: RwLock<State>,
    /// One change at a time: id and version numbers are assigned under this lock.
    writer: Mutex<()>,
    log: SchemaLog,
}

/// A version of a subject, as the API returns it.
#[derive(Debug, Clone, serde::Serialize)]
pub struct SubjectVersion {
    pub subject: String,
    pub version: i32,
    pub id: u32,
    pub schema: String,
}

/// `latest`, `-1`, or a version number.
pub enum VersionSelector {
    Latest,
    Number(i32),
}

impl VersionSelector {
    pub fn parse(text: &str) -> Result<VersionSelector, ApiError> {
        match text {
            "latest" | "-1" => Ok(VersionSelector::Latest),
            _ => match text.parse::<i32>() {
                Ok(n) if n >= 1 => Ok(VersionSelector::Number(n)),
                _ => Err(ApiError::invalid_version(text)),
            },
        }
    }
}

fn store_err(e: impl std::fmt::Display) -> ApiError {
    ApiError::store(e)
}

/// Parse a schema text: valid JSON and valid Avro, or a 422.
fn parse_avro(text: &str) -> Result<(Schema, serde_json::Value), ApiError> {
    let json: serde_json::Value = serde_json::from_str(text).map_err(ApiError::invalid_schema)?;
    let schema = Schema::parse(&json).map_err(ApiError::invalid_schema)?;
    Ok((schema, json))
}

impl Registry {
    /// Open the log and rebuild the state from it.
    pub async fn open(log: SchemaLog, replay_timeout: std::time::Duration) -> Result<Registry, crate::log::LogError> {
        let replay = log.replay(replay_timeout).await?;
        let mut state = State::default();
        let mut bad = 0u64;
        for r in &replay.records {
            if let Err(e) = state.apply(&r.key, r.value.as_deref()) {
                tracing::warn!(error = %e, key = ?r.key, "skipping an unreadable registry record");
                bad += 1;
            }
        }
        tracing::info!(
            records = replay.records.len(),
            skipped = replay.skipped + bad,
            subjects = state.subjects.len(),
            schemas = state.schemas.len(),
            "registry state rebuilt from the log"
        );
        Ok(Registry { state: RwLock::new(state), writer: Mutex::new(()), log })
    }

    async fn append_and_apply(&self, key: LogKey, value: Option<Vec<u8>>) -> Result<(), ApiError> {
        self.log.append(&key, value.as_deref()).await.map_err(store_err)?;
        self.state.write().await.apply(&key, value.as_deref()).map_err(store_err)
    }

    pub async fn subjects(&self, include_deleted: bool) -> Vec<String> {
        let st = self.state.read().await;
        st.subjects
            .iter()
            .filter(|(_, v)| include_deleted || v.iter().any(|e| !e.deleted))
            .map(|(s, _)| s.clone())
            .collect()
    }

    pub async fn versions(&self, subject: &str, include_deleted: bool) -> Result<Vec<i32>, ApiError> {
        let st = self.state.read().await;
        let versions: Vec<i32> = st
            .subjects
            .get(subject)
            .map(|v| v.iter().filter(|e| include_deleted || !e.deleted).map(|e| e.version).collect())
            .unwrap_or_default();
        if versions.is_empty() {
            return Err(ApiError::subject_not_found(subject));
        }
        Ok(versions)
    }

    pub async fn version(
        &self,
        subject: &str,
        selector: &VersionSelector,
        include_deleted: bool,
    ) -> Result<SubjectVersion, ApiError> {
        let st = self.state.read().await;
        let all = st.subjects.get(subject).ok_or_else(|| ApiError::subject_not_found(subject))?;
        let visible: Vec<_> = all.iter().filter(|e| include_deleted || !e.deleted).collect();
        if visible.is_empty() {
            return Err(ApiError::subject_not_found(subject));
        }
        let entry = match selector {
            VersionSelector::Latest => visible.last().copied(),
            VersionSelector::Number(n) => visible.iter().find(|e| e.version == *n).copied(),
        };
        let entry = entry.ok_or_else(|| {
            ApiError::version_not_found(
                subject,
                &match selector {
                    VersionSelector::Latest => "latest".to_string(),
                    VersionSelector::Number(n) => n.to_string(),
                },
            )
        })?;
        Ok(SubjectVersion {
            subject: subject.to_string(),
            version: entry.version,
            id: entry.id,
            schema: st.schemas[&entry.id].clone(),
        })
    }

    pub async fn schema_by_id(&self, id: u32) -> Result<String, ApiError> {
        self.state.read().await.schemas.get(&id).cloned().ok_or_else(ApiError::schema_not_found)
    }

    /// (subject, version) pairs that use schema `id`.
    pub async fn id_usages(&self, id: u32) -> Result<Vec<(String, i32)>, ApiError> {
        let st = self.state.read().await;
        if !st.schemas.contains_key(&id) {
            return Err(ApiError::schema_not_found());
        }
        Ok(st
            .subjects
            .iter()
            .flat_map(|(s, vs)| vs.iter().filter(|e| e.id == id && !e.deleted).map(move |e| (s.clone(), e.version)))
            .collect())
    }

    /// Which live version of `subject` holds this schema, if any.
    pub async fn lookup(&self, subject: &str, schema_text: &str) -> Result<SubjectVersion, ApiError> {
        let (_, json) = parse_avro(schema_text)?;
        let st = self.state.read().await;
        if st.live_versions(subject).is_empty() {
            return Err(ApiError::subject_not_found(subject));
        }
        let id = st.ids_by_canonical.get(&canonical(&json)).copied().ok_or_else(ApiError::schema_not_found)?;
        let entry =
            st.live_versions(subject).into_iter().find(|e| e.id == id).ok_or_else(ApiError::schema_not_found)?;
        Ok(SubjectVersion { subject: subject.to_string(), version: entry.version, id, schema: st.schemas[&id].clone() })
    }

    fn existing_schemas(st: &State, subject: &str) -> Result<Vec<Schema>, ApiError> {
        st.live_versions(subject).iter().map(|e| Schema::parse_str(&st.schemas[&e.id]).map_err(store_err)).collect()
    }

    /// Register a schema under a subject. Idempotent: an already-registered schema returns
    /// its id without a new version. An incompatible one is refused with 409.
    pub async fn register(&self, subject: &str, schema_text: &str) -> Result<u32, ApiError> {
        let (schema, json) = parse_avro(schema_text)?;
        let key = canonical(&json);
        let _guard = self.writer.lock().await;
        let (id, version) = {
            let st = self.state.read().await;
            let known_id = st.ids_by_canonical.get(&key).copied();
            if let Some(id) = known_id {
                if st.live_versions(subject).iter().any(|e| e.id == id) {
                    return Ok(id);
                }
            }
            let existing = Self::existing_schemas(&st, subject)?;
            let refs: Vec<&Schema> = existing.iter().collect();
            let problems = compat::check(st.level_of(subject), &schema, &refs);
            if !problems.is_empty() {
                return Err(ApiError::incompatible(subject, &problems));
            }
            (known_id.unwrap_or_else(|| st.next_id()), st.next_version(subject))
        };
        let value = SchemaValue {
            subject: subject.to_string(),
            version,
            id,
            schema_type: "AVRO".into(),
            schema: schema_text.to_string(),
            deleted: false,
        };
        self.append_and_apply(
            LogKey::Schema { subject: subject.to_string(), version, magic: 1 },
            Some(serde_json::to_vec(&value).expect("serialises")),
        )
        .await?;
        tracing::info!(subject, version, id, "schema registered");
        Ok(id)
    }

    /// Would `schema_text` be compatible with the selected version (or all, if transitive)?
    pub async fn check_compatibility(
        &self,
        subject: &str,
        selector: &VersionSelector,
        schema_text: &str,
    ) -> Result<Vec<String>, ApiError> {
        let (schema, _) = parse_avro(schema_text)?;
        let st = self.state.read().await;
        let live = st.live_versions(subject);
        if live.is_empty() {
            return Err(ApiError::subject_not_found(subject));
        }
        let level = st.level_of(subject);
        let existing = Self::existing_schemas(&st, subject)?;
        let against: Vec<&Schema> = match selector {
            VersionSelector::Latest => existing.iter().collect(),
            VersionSelector::Number(n) => {
                let pos = live
                    .iter()
                    .position(|e| e.version == *n)
                    .ok_or_else(|| ApiError::version_not_found(subject, &n.to_string()))?;
                vec![&existing[pos]]
            }
        };
        Ok(compat::check(level, &schema, &against))
    }

    pub async fn global_level(&self) -> CompatibilityLevel {
        self.state.read().await.global_level
    }

    pub async fn subject_level(&self, subject: &str, default_to_global: bool) -> Result<CompatibilityLevel, ApiError> {
        let st = self.state.read().await;
        match st.subject_levels.get(subject) {
            Some(l) => Ok(*l),
            None if default_to_global => Ok(st.global_level),
            None => Err(ApiError::subject_level_not_configured(subject)),
        }
    }

    pub async fn set_level(&self, subject: Option<&str>, level: CompatibilityLevel) -> Result<(), ApiError> {
        let _guard = self.writer.lock().await;
        let value = serde_json::to_vec(&ConfigValue { compatibility_level: level }).expect("serialises");
        self.append_and_apply(LogKey::Config { subject: subject.map(str::to_string), magic: 0 }, Some(value)).await
    }

    pub async fn delete_level(&self, subject: &str) -> Result<CompatibilityLevel, ApiError> {
        let _guard = self.writer.lock().await;
        let before = self.subject_level(subject, false).await?;
        self.append_and_apply(LogKey::Config { subject: Some(subject.to_string()), magic: 0 }, None).await?;
        Ok(before)
    }

    /// Soft delete (versions hidden, ids kept) or, after a soft delete, permanent delete.
    pub async fn delete_subject(&self, subject: &str, permanent: bool) -> Result<Vec<i32>, ApiError> {
        let _guard = self.writer.lock().await;
        let entries = self
            .state
            .read()
            .await
            .subjects
            .get(subject)
            .cloned()
            .ok_or_else(|| ApiError::subject_not_found(subject))?;
        if permanent && entries.iter().any(|e| !e.deleted) {
            return Err(ApiError::subject_not_soft_deleted(subject));
        }
        if !permanent && entries.iter().all(|e| e.deleted) {
            return Err(ApiError::subject_not_found(subject));
        }
        let mut done = Vec::new();
        for e in entries {
            self.delete_entry(subject, e.version, e.id, permanent).await?;
            done.push(e.version);
        }
        Ok(done)
    }

    pub async fn delete_version(
        &self,
        subject: &str,
        selector: &VersionSelector,
        permanent: bool,
    ) -> Result<i32, ApiError> {
        let _guard = self.writer.lock().await;
        let v = self.version(subject, selector, permanent).await?;
        let deleted = self.state.read().await.subjects[subject].iter().any(|e| e.version == v.version && e.deleted);
        if permanent && !deleted {
            return Err(ApiError::version_not_soft_deleted(subject, v.version));
        }
        self.delete_entry(subject, v.version, v.id, permanent).await?;
        Ok(v.version)
    }

    async fn delete_entry(&self, subject: &str, version: i32, id: u32, permanent: bool) -> Result<(), ApiError> {
        let key = LogKey::Schema { subject: subject.to_string(), version, magic: 1 };
        if permanent {
            return self.append_and_apply(key, None).await;
        }
        let schema = self.state.read().await.schemas[&id].clone();
        let value = SchemaValue {
            subject: subject.to_string(),
            version,
            id,
            schema_type: "AVRO".into(),
            schema,
            deleted: true,
        };
        self.append_and_apply(key, Some(serde_json::to_vec(&value).expect("serialises"))).await
    }
}
