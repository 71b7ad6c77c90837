module github.com/sta-federation/sta-gateway

go 1.26
