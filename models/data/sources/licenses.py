"""License evidence: the Debian copyright files and the npm LICENSE / README / package.json of
every source package, copied to ``build/licenses/``."""
from __future__ import annotations

import os
import shutil
from typing import List

from sources.debian import DEB_DATA
from sources.npm_packages import NPM_PACKAGES, tar_members


def save_license_evidence(out: str, downloads: str, deb_root: str) -> List[str]:
    lic = os.path.join(out, "licenses")
    os.makedirs(lic, exist_ok=True)
    saved = []
    for pkg in DEB_DATA:
        src = os.path.join(deb_root, "usr/share/doc", pkg, "copyright")
        if deb_root and os.path.exists(src):
            shutil.copyfile(src, os.path.join(lic, f"debian-{pkg}.copyright"))
            saved.append(f"debian-{pkg}.copyright")
    for name, (version, fname, _) in NPM_PACKAGES.items():
        path = os.path.join(downloads, fname)
        if not os.path.exists(path):
            continue
        files = tar_members(path)
        for member in ("package/LICENSE", "package/README.md", "package/package.json"):
            if member in files:
                dst = f"npm-{name.replace('@', '').replace('/', '-')}-{version}." f"{os.path.basename(member)}"
                with open(os.path.join(lic, dst), "wb") as f:
                    f.write(files[member])
                saved.append(dst)
    return saved
