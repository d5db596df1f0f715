"""Drives the emulator with boto3, the way a user's Python code would.

Run by `cli_clients.rs` with EMULATOR_URL set; exits non-zero with a message on any mismatch.
"""
import json
import os
import sys

import boto3
from boto3.s3.transfer import TransferConfig

URL = os.environ["EMULATOR_URL"]
CONFIG = json.loads(os.environ["PIPELINE_RESOURCES"])
KW = dict(endpoint_url=URL, region_name="us-east-1",
          aws_access_key_id="test", aws_secret_access_key="test")


def check(cond, what):
    if not cond:
        sys.exit(f"boto3 check failed: {what}")


s3 = boto3.client("s3", **KW)
src = CONFIG["source_bucket"]
names = [b["Name"] for b in s3.list_buckets()["Buckets"]]
check(src in names, f"source bucket listed: {names}")

s3.put_object(Bucket=src, Key="boto/small.txt", Body=b"hello boto3", Metadata={"owner": "data-team"})
got = s3.get_object(Bucket=src, Key="boto/small.txt")
check(got["Body"].read() == b"hello boto3", "small object round-trips")
check(got["Metadata"] == {"owner": "data-team"}, f"metadata: {got['Metadata']}")

# upload_fileobj with a low threshold goes multipart (boto3 adds CRC32 checksums by default).
payload = os.urandom(6 * 1024 * 1024) + b"tail"
import io
s3.upload_fileobj(io.BytesIO(payload), src, "boto/big.bin",
                  Config=TransferConfig(multipart_threshold=5 * 1024 * 1024,
                                        multipart_chunksize=5 * 1024 * 1024))
big = s3.get_object(Bucket=src, Key="boto/big.bin")
check(big["Body"].read() == payload, "multipart object round-trips byte-exact")
check(big["ETag"].strip('"').endswith("-2"), f"multipart ETag: {big['ETag']}")

listed = s3.list_objects_v2(Bucket=src, Prefix="boto/")
check(sorted(o["Key"] for o in listed["Contents"]) == ["boto/big.bin", "boto/small.txt"], "listing")

sqs = boto3.client("sqs", **KW)
q = sqs.create_queue(QueueName="boto3-queue")["QueueUrl"]
sqs.send_message(QueueUrl=q, MessageBody="from boto3",
                 MessageAttributes={"k": {"DataType": "String", "StringValue": "v"}})
msgs = sqs.receive_message(QueueUrl=q, WaitTimeSeconds=1, MessageAttributeNames=["All"])["Messages"]
check(msgs[0]["Body"] == "from boto3", "sqs body")
check(msgs[0]["MessageAttributes"]["k"]["StringValue"] == "v", "sqs attribute")
sqs.delete_message(QueueUrl=q, ReceiptHandle=msgs[0]["ReceiptHandle"])
try:
    sqs.get_queue_url(QueueName="no-such-queue")
    check(False, "missing queue raises")
except sqs.exceptions.QueueDoesNotExist:
    pass

glue = boto3.client("glue", **KW)
db = CONFIG["glue_database"]
tables = [t["Name"] for t in glue.get_tables(DatabaseName=db)["TableList"]]
check(len(tables) >= 2, f"tables: {tables}")
try:
    glue.get_table(DatabaseName=db, Name="no_such_table")
    check(False, "missing table raises")
except glue.exceptions.EntityNotFoundException:
    pass
print("boto3 ok")
