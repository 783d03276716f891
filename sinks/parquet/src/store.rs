//! The bucket: an S3 client for the configured endpoint (path-style, SigV4 with the keys from
//! the environment variables the settings name), whole-object puts, multipart uploads for
//! large files, and listing a folder's file names.

use aws_sdk_s3::primitives::ByteStream;
use aws_sdk_s3::types::{CompletedMultipartUpload, CompletedPart};
use aws_sdk_s3::Client;
use tickwatch_runtime::settings::S3Settings;

#[derive(Debug, thiserror::Error)]
pub enum StoreError {
    #[error("environment variable {0} (named by s3.{1} in the settings) is not set; export the S3 key there")]
    MissingKey(String, &'static str),
    #[error("S3 {op} {key}: {detail}")]
    S3 { op: &'static str, key: String, detail: String },
}

/// The bucket the Parquet history goes to.
#[derive(Clone)]
pub struct Bucket {
    client: Client,
    pub name: String,
}

fn s3_error<E: std::error::Error>(op: &'static str, key: &str, e: E) -> StoreError {
    // The SDK's Display is terse ("service error"); its source chain says what happened.
    let mut detail = e.to_string();
    let mut source = e.source();
    while let Some(s) = source {
        detail.push_str(": ");
        detail.push_str(&s.to_string());
        source = s.source();
    }
    StoreError::S3 { op, key: key.to_string(), detail }
}

impl Bucket {
    pub fn new(settings: &S3Settings) -> Result<Bucket, StoreError> {
        let key = |var: &str, field: &'static str| {
            std::env::var(var).map_err(|_| StoreError::MissingKey(var.to_string(), field))
        };
        let credentials = aws_sdk_s3::config::Credentials::new(
            key(&settings.access_key_env, "access_key_env")?,
            key(&settings.secret_key_env, "secret_key_env")?,
            None,
            None,
            "tickwatch-settings",
        );
        let http = aws_smithy_http_client::Builder::new()
            .tls_provider(aws_smithy_http_client::tls::Provider::Rustls(
                aws_smithy_http_client::tls::rustls_provider::CryptoMode::Ring,
            ))
            .build_https();
        let config = aws_sdk_s3::Config::builder()
            .behavior_version(aws_sdk_s3::config::BehaviorVersion::latest())
            .endpoint_url(&settings.endpoint)
            .region(aws_sdk_s3::config::Region::new(settings.region.clone()))
            .credentials_provider(credentials)
            .force_path_style(true)
            .http_client(http)
            .build();
        Ok(Bucket { client: Client::from_conf(config), name: settings.bucket.clone() })
    }

    /// Store `body` at `key`: one PUT, or a multipart upload in `part_bytes` parts when larger.
    pub async fn put(&self, key: &str, body: Vec<u8>, part_bytes: usize) -> Result<(), StoreError> {
        if body.len() <= part_bytes {
            self.client
                .put_object()
                .bucket(&self.name)
                .key(key)
                .content_type("application/vnd.apache.parquet")
                .body(ByteStream::from(body))
                .send()
                .await
                .map_err(|e| s3_error("PUT", key, e))?;
            return Ok(());
        }
        let upload = self
            .client
            .create_multipart_upload()
            .bucket(&self.name)
            .key(key)
            .content_type("application/vnd.apache.parquet")
            .send()
            .await
            .map_err(|e| s3_error("CreateMultipartUpload", key, e))?;
        let id = upload.upload_id().unwrap_or_default().to_string();
        let result = self.upload_parts(key, &id, &body, part_bytes).await;
        if result.is_err() {
            // Leave no half upload behind (the next attempt starts a new one).
            let _ = self.client.abort_multipart_upload().bucket(&self.name).key(key).upload_id(&id).send().await;
        }
        result
    }

    async fn upload_parts(&self, key: &str, id: &str, body: &[u8], part_bytes: usize) -> Result<(), StoreError> {
        let mut parts = Vec::new();
        for (i, chunk) in body.chunks(part_bytes).enumerate() {
            let number = i as i32 + 1;
            let part = self
                .client
                .upload_part()
                .bucket(&self.name)
                .key(key)
                .upload_id(id)
                .part_number(number)
                .body(ByteStream::from(chunk.to_vec()))
                .send()
                .await
                .map_err(|e| s3_error("UploadPart", key, e))?;
            parts.push(CompletedPart::builder().part_number(number).set_e_tag(part.e_tag().map(String::from)).build());
        }
        self.client
            .complete_multipart_upload()
            .bucket(&self.name)
            .key(key)
            .upload_id(id)
            .multipart_upload(CompletedMultipartUpload::builder().set_parts(Some(parts)).build())
            .send()
            .await
            .map_err(|e| s3_error("CompleteMultipartUpload", key, e))?;
        Ok(())
    }

    /// The object names directly in `folder` (a key prefix ending with `/`), without it.
    pub async fn list(&self, folder: &str) -> Result<Vec<String>, StoreError> {
        let mut names = Vec::new();
        let mut pages =
            self.client.list_objects_v2().bucket(&self.name).prefix(folder).delimiter("/").into_paginator().send();
        while let Some(page) = pages.next().await {
            let page = page.map_err(|e| s3_error("LIST", folder, e))?;
            for object in page.contents() {
                if let Some(name) = object.key().and_then(|k| k.strip_prefix(folder)) {
                    names.push(name.to_string());
                }
            }
        }
        Ok(names)
    }

    /// The whole object at `key`.
    pub async fn get(&self, key: &str) -> Result<Vec<u8>, StoreError> {
        let out =
            self.client.get_object().bucket(&self.name).key(key).send().await.map_err(|e| s3_error("GET", key, e))?;
        let bytes = out.body.collect().await.map_err(|e| s3_error("GET", key, e))?;
        Ok(bytes.into_bytes().to_vec())
    }

    /// Every key under `prefix` (recursive), for tests and tools.
    pub async fn keys(&self, prefix: &str) -> Result<Vec<String>, StoreError> {
        let mut keys = Vec::new();
        let mut pages = self.client.list_objects_v2().bucket(&self.name).prefix(prefix).into_paginator().send();
        while let Some(page) = pages.next().await {
            let page = page.map_err(|e| s3_error("LIST", prefix, e))?;
            keys.extend(page.contents().iter().filter_map(|o| o.key().map(String::from)));
        }
        Ok(keys)
    }
}
