#!/usr/bin/env bash
# Every section citation in the tree must resolve. Scans every tracked text file (git
# ls-files; not bindings-spec/abi.json, which is generated from the headers, nor
# tests/fuzz/corpus/, nor binary files, nor this script and scripts/fix-citations) for
#   <path>.md §N   <path>.md §N.M   <path>.md section N     and lists after one:
#   "docs/DESIGN.md §6, §11", "bindings-spec/SPEC.md §2–§5", "§4 and §8"
# and checks that the file exists in the tree (the path taken from the top of the tree, then
# from the citing file's directory, then as the one tracked file of that name) and has a
# Markdown heading numbered N or N.M ("## 5. Title", "### 5.2 Title").
# Errors:
#   - a bare "DESIGN.md" (no directory) or "DESIGN §N": it named the design document that
#     lived outside the tree; write docs/DESIGN.md (scripts/fix-citations does it);
#   - inside a Markdown file with numbered headings (docs/DESIGN.md, bindings-spec/SPEC.md,
#     bindings-spec/README.md, ...), a bare "§N" is a citation of that file's own sections and
#     must resolve too.
# External citations ("RFC 4303 §3.4.3", "RFC 5280 §5, §6.3") are ignored.
# Prints each unresolved citation as file:line and exits 1; otherwise prints how many
# citations resolved. Needs no build (BUILD is ignored).
set -u
cd "$(dirname "$0")/../.." || exit 1

if git rev-parse --is-inside-work-tree >/dev/null 2>&1; then
    list() { git ls-files -z; }
else
    list() { find . -path ./.git -prune -o -path './build*' -prune -o -path ./demo-out -prune \
        -o -type f -print0 | sed -z 's|^\./||'; }
fi

list | perl -0 -e '
use strict;
use warnings;

# this script and scripts/fix-citations spell the patterns out: not citations
my %skip = map { $_ => 1 } ("bindings-spec/abi.json", "tests/scripts/citations.sh",
                            "scripts/fix-citations");
my @files = grep { $_ ne "" && !$skip{$_} && !m{^tests/fuzz/corpus/} }
            map { s/\0\z//r } <STDIN>;
my %tracked = map { $_ => 1 } @files;
my %by_name;                    # basename -> [paths]
for my $f (@files) { my ($b) = $f =~ m{([^/]+)\z}; push @{ $by_name{$b} }, $f; }

my %headings;                   # path -> { "5" => 1, "5.2" => 1 }
sub headings {
    my ($path) = @_;
    return $headings{$path} if exists $headings{$path};
    my %h;
    local $/ = "\n";
    if (open(my $fh, "<", $path)) {
        my $fence = 0;
        while (my $l = <$fh>) {
            $fence = !$fence if $l =~ /^\s*```/;
            next if $fence;
            $h{$1} = 1 if $l =~ /^#{1,6}\s+(\d+(?:\.\d+)*)\.?(?:\s|$)/;
        }
        close $fh;
    }
    return $headings{$path} = \%h;
}

sub resolve {                   # cited path as written, citing file -> tracked path or undef
    my ($p, $from) = @_;
    return $p if $tracked{$p};
    my ($dir) = $from =~ m{^(.*)/[^/]*\z};
    if (defined $dir) {
        my $q = "$dir/$p";
        1 while $q =~ s{(^|/)[^/]+/\.\./}{$1};
        return $q if $tracked{$q};
    }
    if ($p !~ m{/}) {
        my $c = $by_name{$p};
        return $c->[0] if $c && @$c == 1;
    }
    return undef;
}

my ($ok, $bad) = (0, 0);
sub fail { my ($f, $n, $msg) = @_; print "$f:$n: $msg\n"; $bad++; }
sub check { my ($f, $n, $target, $shown, $s) = @_;
    return $ok++ if headings($target)->{$s};
    fail($f, $n, ($shown eq "" ? "§$s: no section $s in this file" : "$shown §$s: no section $s in $target")); }

# Bytes throughout ("§" is C2 A7, "–" E2 80 93). One section number, then any list of more:
# "§6, §11", "§2–§5", "§4 and §8", "§3/§4".
my $NUM  = qr/\d+(?:\.\d+)*/;
my $LIST = qr/§$NUM(?:\s*(?:,|and|or|to|–|-|\/)\s*§$NUM)*/;

for my $f (@files) {
    open(my $fh, "<", $f) or next;
    binmode $fh;
    local $/;
    my $text = <$fh>;
    close $fh;
    next if index($text, "\0") >= 0;                             # binary
    next if index($text, "§") < 0 && index($text, "DESIGN") < 0;  # nothing to check
    my $self = $f =~ /\.md\z/ && %{ headings($f) } ? $f : undef;
    my $n = 0;
    for my $line (split /\n/, $text) {
        $n++;
        next if index($line, "§") < 0 && index($line, "DESIGN") < 0;
        my @spans;                                                # [start, end) explained
        # 1. <path>.md §N... / <path>.md section N
        while ($line =~ /(?<![\w.\/-])((?:[\w.-]+\/)*[\w.-]+\.md)\s+(?:($LIST)|section\s+($NUM))/g) {
            my ($path, $refs, $sect) = ($1, $2, $3);
            push @spans, [$-[0], $+[0]];
            my @nums = defined $refs ? ($refs =~ /§($NUM)/g) : ($sect);
            if ($path eq "DESIGN.md") {
                fail($f, $n, "\"DESIGN.md §$nums[0]\": ambiguous (the design that lived outside the tree); cite docs/DESIGN.md");
                next;
            }
            my $target = resolve($path, $f);
            if (!defined $target) {
                fail($f, $n, "$path: no such file in the tree");
                next;
            }
            check($f, $n, $target, $path, $_) for @nums;
        }
        # 2. a bare DESIGN.md (no directory) or "DESIGN §N"
        while ($line =~ /(?<![\w.\/-])(DESIGN(?:\.md\b|\s+§))/g) {
            my ($what, $at) = ($1, $-[0]);
            next if grep { $at >= $_->[0] && $at < $_->[1] } @spans;
            $what =~ s/\s+§\z//;
            fail($f, $n, "bare \"$what\": the design that lived outside the tree; cite docs/DESIGN.md");
        }
        # 3. in a Markdown file with numbered headings, a bare §N cites that file
        next unless defined $self;
        while ($line =~ /($LIST)/g) {
            my ($refs, $at) = ($1, $-[0]);
            next if grep { $at >= $_->[0] && $at < $_->[1] } @spans;
            next if substr($line, 0, $at) =~ /(?:RFC|FIPS|SP|ISO|Appendix)[\s\d.-]*\z/;
            check($f, $n, $self, "", $_) for ($refs =~ /§($NUM)/g);
        }
    }
}
if ($bad) {
    print "citations: $bad unresolved, $ok resolved\n";
    exit 1;
}
print "citations: $ok resolved\n";
exit 0;
'
