#!/bin/sh
# Fetch again, from npm, the files the Data Docs site loads instead of GX's CDNs (README.md
# lists them with their licences and sha256). Not run by the build or the tests: the files are
# committed. Needs npm; prints the sha256 of every file at the end.
set -eu
here=$(cd "$(dirname "$0")" && pwd)
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
cd "$work"

fetch() {  # fetch PACKAGE@VERSION DEST_DIR FILE_IN_PACKAGE:PATH_IN_DEST...
    spec=$1 dest=$2
    shift 2
    rm -rf package
    tar xzf "$(npm pack "$spec" --silent | tail -1)"
    for pair in "$@"; do
        src=${pair%%:*} target=$here/$dest/${pair#*:}
        mkdir -p "$(dirname "$target")"
        cp "package/$src" "$target"
    done
}

fetch bootstrap@4.3.1 bootstrap-4.3.1 dist/css/bootstrap.min.css:bootstrap.min.css \
    dist/js/bootstrap.min.js:bootstrap.min.js LICENSE:LICENSE
fetch jquery@3.7.1 jquery-3.7.1 dist/jquery.min.js:jquery.min.js LICENSE.txt:LICENSE.txt
# popper.js ships no licence file: its LICENSE here is the MIT text its header names.
fetch popper.js@1.12.9 popper.js-1.12.9 dist/umd/popper.min.js:popper.min.js
fetch bootstrap-table@1.19.1 bootstrap-table-1.19.1 \
    dist/bootstrap-table.min.css:bootstrap-table.min.css \
    dist/bootstrap-table.min.js:bootstrap-table.min.js \
    dist/extensions/filter-control/bootstrap-table-filter-control.min.css:bootstrap-table-filter-control.min.css \
    dist/extensions/filter-control/bootstrap-table-filter-control.min.js:bootstrap-table-filter-control.min.js \
    LICENSE:LICENSE
fetch bootstrap-datepicker@1.9.0 bootstrap-datepicker-1.9.0 \
    dist/css/bootstrap-datepicker.min.css:bootstrap-datepicker.min.css \
    dist/js/bootstrap-datepicker.min.js:bootstrap-datepicker.min.js LICENSE:LICENSE
fetch @fortawesome/fontawesome-free@6.6.0 fontawesome-free-6.6.0 \
    css/fontawesome.min.css:css/fontawesome.min.css css/solid.min.css:css/solid.min.css \
    webfonts/fa-solid-900.woff2:webfonts/fa-solid-900.woff2 LICENSE.txt:LICENSE.txt

cd "$here" && find . -type f ! -name README.md ! -name update.sh | sort | xargs sha256sum
