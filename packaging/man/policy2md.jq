# schemas/policy.schema.json as markdown for lowdown: every field, nested ones
# by their path (network.allow[]), with its type, bounds, default and meaning.
def esc: gsub("(?<c>[\\\\*_\\[\\]<>|#^~])"; "\\\(.c)");
def ref($root): if has("$ref") then $root["$defs"][.["$ref"] | sub("^#/\\$defs/"; "")] else . end;
def ty($root):
  ref($root) as $s
  | ( if $s | has("const") then "the constant \($s.const)"
      elif $s | has("enum") then "one of " + ($s.enum | map(tostring) | join(", "))
      elif $s | has("oneOf") then $s.oneOf | map(ty($root)) | join(", or ")
      elif $s.type == "array" then "list of " + ($s.items | ty($root))
      elif $s.type == "object" and ($s.additionalProperties | type) == "object"
        then "object of names to " + ($s.additionalProperties | ty($root))
      elif $s | has("type") then $s.type | tostring
      else "any value" end )
    + (if $s | has("pattern") then " matching `\($s.pattern)`" else "" end)
    + (if $s | has("minimum") then ", at least \($s.minimum)" else "" end)
    + (if $s | has("maximum") then ", at most \($s.maximum)" else "" end)
    + (if $s | has("maxItems") then ", at most \($s.maxItems) entries" else "" end)
    + (if $s | has("default") then " (default \($s.default))" else "" end);
def fields($root; $p):
  (.properties // {}) | to_entries[]
  | .key as $k | .value as $v
  | "\n`\($p + $k)`\n: " + ($v | ty($root)) + (if $v.description then ". " + ($v.description | esc) else "" end) + "\n",
    (if $v.properties then $v | fields($root; $p + $k + ".") else empty end),
    (if $v.items.properties then $v.items | fields($root; $p + $k + "[].") else empty end);
. as $root
| "# NAME\n\nsandtrail-policy - the session policy of sandtrail run --policy FILE\n",
  "# DESCRIPTION\n\n" + ($root.description | esc) + "\n\nA policy is one JSON object (" + ($root.title | esc) + "); its fields:\n",
  fields($root; ""),
  "\n# SEE ALSO\n\nsandtrail(1), sandtrail-records(5)"
