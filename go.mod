module github.com/sta-federation/sta-gateway

go 1.26.0

require (
	github.com/mattn/go-sqlite3 v1.14.53
	github.com/skeema/knownhosts v1.3.3
	golang.org/x/crypto v0.59.0
)

require golang.org/x/sys v0.50.0 // indirect
