package windows

// Thumbprint is exported to the external tests.
var Thumbprint = thumbprint
