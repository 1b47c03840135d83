package windows

import _ "embed"

//go:embed scripts/Collect-EdgecertSnapshot.ps1
var collectScript []byte

// CollectScriptName is the file name of the snapshot script.
const CollectScriptName = "Collect-EdgecertSnapshot.ps1"

// CollectScript returns Collect-EdgecertSnapshot.ps1, the read-only script
// that writes a server's snapshot (Windows PowerShell 4.0 and 5.1).
func CollectScript() []byte { return append([]byte(nil), collectScript...) }
