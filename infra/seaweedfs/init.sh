#!/bin/sh
# One-shot run by the `seaweedfs-init` service at every start (idempotent): creates the bucket
# TaylorDash uses (S3_BUCKET, default taylordash), through SeaweedFS' admin shell.
set -eu
bucket=${S3_BUCKET:-taylordash}
master=${SEAWEEDFS_MASTER:-seaweedfs:9333}
if echo "s3.bucket.list" | weed shell -master="$master" 2>/dev/null | grep -qw "$bucket"; then
  echo "seaweedfs-init: bucket $bucket exists"
  exit 0
fi
echo "s3.bucket.create -name $bucket" | weed shell -master="$master"
echo "s3.bucket.list" | weed shell -master="$master" | grep -qw "$bucket" \
  || { echo "seaweedfs-init: bucket $bucket was not created" >&2; exit 1; }
echo "seaweedfs-init: bucket $bucket created"
