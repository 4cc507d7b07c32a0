// `kiseki mount`: a namespace as a POSIX file system on the libfuse3 low-level
// API, over libkiseki (docs/mount.md). Inode numbers are the server's; the
// kernel's page cache and the client cache (client/cache/) keep a file's data
// across opens while its mtime and size are what the server last said, and
// drop it when they changed.
#pragma once

#include <string>

#include "client/client.h"
#include "mount/mount_options.h"

namespace kiseki::mount {

struct MountTarget {
  client::ClientOptions client;
  std::string ns_name;     // the namespace (S3 bucket) of the client's tenant
  std::string mountpoint;
  std::string fsname;      // shown by mount(8) and df: "kiseki:TENANT/NAMESPACE"
};

// Checks the server, the key and the namespace, mounts, and serves until the
// file system is unmounted (fusermount3 -u, kiseki umount) or a signal comes.
// Without `foreground` it returns in the parent once the mount is up and the
// child serves. Returns the process exit code; errors go to stderr.
int run_mount(const MountTarget& target, const MountOptions& opts, bool foreground);

}  // namespace kiseki::mount
