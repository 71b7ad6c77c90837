#!/bin/bash
#SBATCH --job-name="my job"
#SBATCH --comment='it'"'"'s "quoted"'
#SBATCH -o "logs/out file %j.log"
#SBATCH --constraint=a"&"b
#SBATCH --mail-user='a@b.c' # comment after quotes
#SBATCH --export="ALL,MSG=a#b"
echo done
