"""Ready-to-paste client configuration for a credential, filled with the real endpoint."""

from __future__ import annotations

from dataclasses import dataclass
from urllib.parse import urlsplit


@dataclass(frozen=True)
class Snippet:
    id: str
    title: str
    text: str


def snippets(endpoint: str, region: str, access_key: str, secret: str,
             profile: str = "objectstore") -> list[Snippet]:
    parts = urlsplit(endpoint)
    host = parts.netloc
    https = parts.scheme == "https"
    env = (f"export AWS_ACCESS_KEY_ID={access_key}\n"
           f"export AWS_SECRET_ACCESS_KEY={secret}\n"
           f"export AWS_DEFAULT_REGION={region}\n"
           f"export AWS_ENDPOINT_URL={endpoint}\n")
    s3cfg = (f"[default]\naccess_key = {access_key}\nsecret_key = {secret}\n"
             f"host_base = {host}\nhost_bucket = {host}\nbucket_location = {region}\n"
             f"use_https = {'True' if https else 'False'}\nsignature_v2 = False\n")
    rclone = (f"[{profile}]\ntype = s3\nprovider = Other\nendpoint = {endpoint}\n"
              f"access_key_id = {access_key}\nsecret_access_key = {secret}\n"
              f"region = {region}\nforce_path_style = true\n")
    aws = (f"# ~/.aws/credentials\n[{profile}]\naws_access_key_id = {access_key}\n"
           f"aws_secret_access_key = {secret}\n\n"
           f"# ~/.aws/config\n[profile {profile}]\nregion = {region}\n"
           f"endpoint_url = {endpoint}\ns3 =\n    addressing_style = path\n\n"
           f"# then: aws --profile {profile} s3 ls\n")
    boto3 = ("import boto3\n\n"
             f's3 = boto3.client(\n    "s3",\n    endpoint_url="{endpoint}",\n'
             f'    aws_access_key_id="{access_key}",\n'
             f'    aws_secret_access_key="{secret}",\n    region_name="{region}",\n)\n'
             "print(s3.list_buckets()[\"Buckets\"])\n")
    return [Snippet("env", "Environment variables", env),
            Snippet("s3cfg", "~/.s3cfg (s3cmd)", s3cfg),
            Snippet("rclone", "rclone (~/.config/rclone/rclone.conf)", rclone),
            Snippet("aws", "aws CLI profile", aws),
            Snippet("boto3", "boto3 (Python)", boto3)]
