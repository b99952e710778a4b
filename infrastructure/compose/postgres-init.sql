-- One database per service (each service migrates its own schema at start).
CREATE DATABASE auth;
CREATE DATABASE patient;
CREATE DATABASE billing;
CREATE DATABASE analytics;
