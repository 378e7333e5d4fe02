"""Document uploads: presigned direct uploads with a confirm step, small uploads through the
API, content checked by magic bytes, short-lived download links."""
