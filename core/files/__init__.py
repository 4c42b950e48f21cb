"""The core's file storage: one service for every file the Hub keeps (uploads, ticket
attachments, logos, workflow files, exports).

- stores.py: where the bytes live, behind `FileStore` (a directory under the data dir, or an
  S3-compatible bucket through boto3), under generated keys only;
- sniff.py: what a file is, from its bytes;
- service.py: save (streamed, bounded, checked, counted against `storage_mb`), open, delete,
  download responses;
- uploads.py: a multipart/form-data upload streamed from the request into the store;
- models.py: `StoredFile` (tenant-scoped) and `StorageUsage` (bytes per organization).

Plugins use it through `core` (save_file, open_file, file_info, delete_file, delete_files,
file_response, save_upload, storage_used, FileInfo), never by importing this package.
"""
