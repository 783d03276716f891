//! The bucket against the stack's real S3 server: a file larger than a part goes up as a
//! multipart upload (three parts) and reads back byte for byte; a small one as one PUT;
//! listing a folder gives the names inside it only.

use tickwatch_sink_parquet::config::MIN_PART_BYTES;
use tickwatch_sink_parquet::store::Bucket;
use tickwatch_testkit::{stack, unique};

#[tokio::test(flavor = "multi_thread")]
async fn multipart_and_single_uploads_read_back_exactly() {
    let s = stack();
    for k in ["TICKWATCH_S3_ACCESS_KEY", "TICKWATCH_S3_SECRET_KEY"] {
        std::env::set_var(k, s.var(k).unwrap());
    }
    let bucket = Bucket::new(&s.settings.s3).unwrap();
    let folder = format!("{}/", unique("store"));
    // 12 MiB of varied bytes: parts of 5 + 5 + 2 MiB.
    let big: Vec<u8> = (0..12 * 1024 * 1024u32).map(|i| (i.wrapping_mul(2_654_435_761) >> 13) as u8).collect();
    bucket.put(&format!("{folder}big.parquet"), big.clone(), MIN_PART_BYTES).await.unwrap();
    bucket.put(&format!("{folder}small.parquet"), b"tiny".to_vec(), MIN_PART_BYTES).await.unwrap();
    bucket.put(&format!("{folder}deeper/x.parquet"), b"x".to_vec(), MIN_PART_BYTES).await.unwrap();
    assert!(bucket.get(&format!("{folder}big.parquet")).await.unwrap() == big, "the multipart object reads back whole");
    assert_eq!(bucket.get(&format!("{folder}small.parquet")).await.unwrap(), b"tiny");
    let mut names = bucket.list(&folder).await.unwrap();
    names.sort();
    assert_eq!(names, ["big.parquet", "small.parquet"]);
    assert_eq!(bucket.keys(&folder).await.unwrap().len(), 3);
}

#[test]
fn a_missing_key_variable_is_named() {
    let mut settings = tickwatch_runtime::settings::S3Settings {
        endpoint: "http://127.0.0.1:9".into(),
        region: "us-east-1".into(),
        bucket: "b".into(),
        access_key_env: String::new(),
        secret_key_env: "PATH".into(),
    };
    settings.access_key_env = "TW_TEST_NO_SUCH_VARIABLE".into();
    let err = Bucket::new(&settings).err().expect("no key, no bucket");
    assert!(
        err.to_string().contains("TW_TEST_NO_SUCH_VARIABLE") && err.to_string().contains("access_key_env"),
        "{err}"
    );
}
